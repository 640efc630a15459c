using System.Runtime.InteropServices;

namespace LstmKernels.Interop;

public static partial class PyTorchFile
{
    /// <summary>The unpickler's stack, memo and budget of objects.</summary>
    private sealed partial class Unpickler
    {
        private int Floor() => marks.Count == 0 ? 0 : marks[^1];

        private void Push(object? value)
        {
            if (stack.Count >= maxStack)
            {
                Fail($"more than {maxStack} values on the stack (4096 plus one per 8 bytes of pickle, at most {MaxStack})");
            }

            stack.Add(value);
        }

        /// <summary>Pops <paramref name="count"/> values above the last mark, in stack order.</summary>
        private object?[] PopMany(int count)
        {
            int floor = Floor();
            if (stack.Count - floor < count)
            {
                Fail($"{count} values wanted and {stack.Count - floor} on the stack above the mark");
            }

            object?[] values = CollectionsMarshal.AsSpan(stack)[^count..].ToArray();
            stack.RemoveRange(stack.Count - count, count);
            return values;
        }

        /// <summary>Pops the value on top, above the last mark.</summary>
        private object? Pop()
        {
            if (stack.Count <= Floor())
            {
                Fail($"1 values wanted and 0 on the stack above the mark");
            }

            object? value = stack[^1];
            stack.RemoveAt(stack.Count - 1);
            return value;
        }

        private object?[] PopToMark()
        {
            if (marks.Count == 0)
            {
                Fail("no MARK to pop to");
            }

            int floor = marks[^1];
            marks.RemoveAt(marks.Count - 1);
            object?[] values = stack.Count == floor ? [] : CollectionsMarshal.AsSpan(stack)[floor..].ToArray();
            stack.RemoveRange(floor, stack.Count - floor);
            return values;
        }

        private PickleDict Dict(string opcode) =>
            stack.Count > Floor() && stack[^1] is PickleDict dict ? dict : Fail<PickleDict>($"{opcode} on {(stack.Count > Floor() ? Describe(stack[^1]) : "an empty stack")}, not a dict");

        private void Put(long index)
        {
            if (stack.Count <= Floor())
            {
                Fail("a memo PUT with nothing on the stack");
            }

            // The pickler numbers its memo entries 0, 1, 2, …: those are a list; any other index goes to a dictionary.
            if (index < memo.Count)
            {
                memo[(int)index] = stack[^1];
                return;
            }

            if (memo.Count + sparseMemo.Count >= MaxMemo && !sparseMemo.ContainsKey(index))
            {
                Fail($"more than {MaxMemo} memo entries");
            }

            if (index == memo.Count && sparseMemo.Count == 0)
            {
                // A slot of 8 bytes, and the list may double: 32 bytes allocated at most.
                Charge(32);
                memo.Add(stack[^1]);
            }
            else
            {
                Charge(sparseMemo.ContainsKey(index) ? 0 : 80);
                sparseMemo[index] = stack[^1];
            }
        }

        private object? Get(long index) =>
            index >= 0 && index < memo.Count ? memo[(int)index]
            : sparseMemo.TryGetValue(index, out object? value) ? value : Fail<object?>($"a memo GET of entry {index}, which was never PUT");

        /// <summary>Charges <paramref name="bytes"/> of objects built to the pickle's budget (8 bytes per byte of file plus 64 KiB).</summary>
        private void Charge(long bytes)
        {
            objectBytes -= bytes;
            if (objectBytes < 0)
            {
                Fail($"more objects than a {archive.FileLength}-byte file may build ({ObjectBytesPerFileByte} bytes per byte plus {ObjectSlack})");
            }
        }

        /// <summary>A tuple, charged to the budget.</summary>
        private object?[] Built(object?[] tuple)
        {
            Charge(24 + (8L * tuple.Length));
            return tuple;
        }
    }
}
