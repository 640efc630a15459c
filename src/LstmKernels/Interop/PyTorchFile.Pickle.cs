using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace LstmKernels.Interop;

public static partial class PyTorchFile
{
    /// <summary>
    /// A restricted unpickler: it builds values (None, bool, int, str, tuple, dict, the allowed globals, storages and
    /// tensors) and never calls anything of the file's choosing. Only the opcodes torch.save's pickles use are read,
    /// every length is checked against the bytes left before anything is allocated, the stack (4096 values plus one per 8
    /// bytes of pickle), the marks and the memo are capped, and the objects built (tuples, dicts, strs, ints, memo
    /// entries) are charged against 8 bytes per byte of file plus 64 KiB, so a hostile pickle costs memory in
    /// proportion to its size at most.
    /// </summary>
    private sealed partial class Unpickler(byte[] data, Archive archive)
    {
        private const int MaxStack = 1 << 20;

        /// <summary>
        /// Bytes of objects (tuples, dicts, strs, ints, memo entries) the pickle may build per byte of the file. A
        /// state_dict's pickle builds 7 to 10 bytes per byte of itself, and is less than half of its file (each storage
        /// has its entry and its zip headers besides).
        /// </summary>
        private const long ObjectBytesPerFileByte = 8;

        /// <summary>Bytes of objects every pickle may build whatever its length.</summary>
        private const long ObjectSlack = 1 << 16;
        private const int MaxMarks = 1 << 12;
        private const int MaxMemo = 1 << 20;
        private const int MaxGlobalLine = 1024;

        private static readonly UTF8Encoding Utf8 = new(false, true);
        private static readonly object True = true;
        private static readonly object False = false;
        private static readonly object[] SmallInts = [.. Enumerable.Range(0, 1024).Select(v => (object)(long)v)];

        private readonly List<object?> stack = [];
        private readonly List<int> marks = [];
        private readonly List<object?> memo = [];
        private readonly Dictionary<long, object?> sparseMemo = [];
        private readonly int maxStack = (int)Math.Min(MaxStack, 4096 + (data.Length / 8L));
        private long objectBytes = (ObjectBytesPerFileByte * archive.FileLength) + ObjectSlack;
        private int at;
        private int opcodeAt;

        /// <summary>Runs the pickle to its STOP and returns the one value it leaves.</summary>
        public object? Run()
        {
            if (data.Length == 0 || data[0] != 0x80)
            {
                Fail("no PROTO at its start (protocols 2 to 5 are read; torch writes 2)");
            }

            while (true)
            {
                if (at >= data.Length)
                {
                    Fail("the pickle ends without STOP (truncated)");
                }

                opcodeAt = at;
                byte op = data[at++];
                switch (op)
                {
                    case 0x80: // PROTO
                        int protocol = Take(1)[0];
                        if (opcodeAt != 0 || protocol is < 2 or > 5)
                        {
                            Fail($"PROTO {protocol} (protocols 2 to 5 are read, and PROTO comes first)");
                        }

                        break;
                    case 0x95: // FRAME: protocol 4 framing, a hint of the bytes that follow.
                        if (BinaryPrimitives.ReadUInt64LittleEndian(Take(8)) > (ulong)(data.Length - at))
                        {
                            Fail("a FRAME longer than the pickle");
                        }

                        break;
                    case (byte)'.': // STOP
                        if (marks.Count != 0 || stack.Count != 1 || at != data.Length)
                        {
                            Fail($"STOP with {stack.Count} values and {marks.Count} marks on the stack and {data.Length - at} bytes after it (expected one value, no mark, the end)");
                        }

                        return stack[0];
                    case (byte)'(': // MARK
                        if (marks.Count >= MaxMarks)
                        {
                            Fail($"more than {MaxMarks} nested MARKs");
                        }

                        marks.Add(stack.Count);
                        break;
                    case (byte)')': // EMPTY_TUPLE
                        Push(Array.Empty<object?>());
                        break;
                    case (byte)'t': // TUPLE
                        Push(Built(PopToMark()));
                        break;
                    case 0x85: // TUPLE1
                    case 0x86: // TUPLE2
                    case 0x87: // TUPLE3
                        Push(Built(PopMany(op - 0x84)));
                        break;
                    case (byte)'}': // EMPTY_DICT
                        Charge(32);
                        Push(new PickleDict(ordered: false));
                        break;
                    case (byte)'s': // SETITEM
                        object? value = Pop();
                        object? key = Pop();
                        SetItem(Dict("SETITEM"), key, value);
                        break;
                    case (byte)'u': // SETITEMS
                        object?[] items = PopToMark();
                        if (items.Length % 2 != 0)
                        {
                            Fail($"SETITEMS with an odd number ({items.Length}) of keys and values");
                        }

                        PickleDict target = Dict("SETITEMS");
                        for (int k = 0; k < items.Length; k += 2)
                        {
                            SetItem(target, items[k], items[k + 1]);
                        }

                        break;
                    case (byte)'J': // BININT
                        Push(Box(BinaryPrimitives.ReadInt32LittleEndian(Take(4))));
                        break;
                    case (byte)'K': // BININT1
                        Push(Box(Take(1)[0]));
                        break;
                    case (byte)'M': // BININT2
                        Push(Box(BinaryPrimitives.ReadUInt16LittleEndian(Take(2))));
                        break;
                    case 0x8A: // LONG1: n bytes of two's complement, little-endian.
                        Push(Box(Long1()));
                        break;
                    case (byte)'N': // NONE
                        Push(null);
                        break;
                    case 0x88: // NEWTRUE
                        Push(True);
                        break;
                    case 0x89: // NEWFALSE
                        Push(False);
                        break;
                    case (byte)'X': // BINUNICODE
                        Push(Text(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))));
                        break;
                    case 0x8C: // SHORT_BINUNICODE
                        Push(Text(Take(1)[0]));
                        break;
                    case (byte)'c': // GLOBAL "module\nname\n"
                        string module = Line();
                        Push(Resolve(module, Line()));
                        break;
                    case 0x93: // STACK_GLOBAL
                        object?[] names = PopMany(2);
                        Push(names is [string m, string n] ? Resolve(m, n) : Fail<PickleGlobal>("STACK_GLOBAL on values that are not two strs"));
                        break;
                    case (byte)'R': // REDUCE
                        object? arguments = Pop();
                        Push(Reduce(Pop(), arguments));
                        break;
                    case (byte)'b': // BUILD
                        object? state = Pop();
                        object? built = stack.Count > Floor() ? stack[^1] : null;
                        if (built is not PickleDict || state is not PickleDict)
                        {
                            Fail($"BUILD of {Describe(built)} with {Describe(state)} (only a dict's attributes, such as a state_dict's _metadata, are accepted)");
                        }

                        break;
                    case (byte)'Q': // BINPERSID
                        Push(archive.Load(Pop()));
                        break;
                    case (byte)'q': // BINPUT
                        Put(Take(1)[0]);
                        break;
                    case (byte)'r': // LONG_BINPUT
                        Put(BinaryPrimitives.ReadUInt32LittleEndian(Take(4)));
                        break;
                    case 0x94: // MEMOIZE
                        Put(memo.Count + sparseMemo.Count);
                        break;
                    case (byte)'h': // BINGET
                        Push(Get(Take(1)[0]));
                        break;
                    case (byte)'j': // LONG_BINGET
                        Push(Get(BinaryPrimitives.ReadUInt32LittleEndian(Take(4))));
                        break;
                    default:
                        Fail($"opcode {OpcodeName(op)} (0x{op:X2}), which a state_dict does not need");
                        break;
                }
            }
        }

        /// <summary>
        /// <c>dict[key] = value</c>: the key must be a str not set before (a pickle of a Python dict never repeats one),
        /// and each item is charged to the file's budget as it is set, not when the dict is complete.
        /// </summary>
        private void SetItem(PickleDict dict, object? key, object? value)
        {
            string name = key as string ?? Fail<string>($"a dict key that is {Describe(key)}, not a str (a state_dict's keys are names)");

            if (!dict.TryAdd(name, value))
            {
                InteropThrow.Invalid(Format, $"entry {Quote(name)} appears twice.");
            }

            if (!archive.TryCharge(UnitsPerName))
            {
                archive.OverBudget("entry " + Quote(name));
            }
        }

        /// <summary>An int as the stack holds it; the small ones (most of a state_dict's) are boxed once for all.</summary>
        private object Box(long value)
        {
            if (value is >= 0 and < 1024)
            {
                return SmallInts[value];
            }

            Charge(24);
            return value;
        }

        private object Reduce(object? callable, object? arguments)
        {
            if (callable is not PickleGlobal global || arguments is not object?[] args)
            {
                return Fail<object>($"REDUCE of {Describe(callable)} with {Describe(arguments)} (only the allow-listed functions are called, with a tuple)");
            }

            switch (global)
            {
                case PickleGlobal.OrderedDict when args.Length == 0:
                    Charge(32);
                    return new PickleDict(ordered: true);
                case PickleGlobal.RebuildTensorV2:
                    return archive.Rebuild(args);
                case PickleGlobal.RebuildParameter when args is [TensorValue tensor, bool, PickleDict]:
                    return tensor;
                default:
                    return Fail<object>($"REDUCE of {Name(global)} with {Describe(args)}, which a state_dict does not do");
            }
        }

        private ReadOnlySpan<byte> Take(int count)
        {
            if (count > data.Length - at)
            {
                Fail($"{count} bytes wanted, {data.Length - at} left (truncated)");
            }

            at += count;
            return data.AsSpan(at - count, count);
        }

        private string Text(uint length)
        {
            if (length > (uint)(data.Length - at))
            {
                Fail($"a string of {length} bytes with {data.Length - at} left (truncated)");
            }

            Charge(24 + (2L * length));

            try
            {
                return Utf8.GetString(Take((int)length));
            }
            catch (DecoderFallbackException)
            {
                return Fail<string>("a string that is not valid UTF-8");
            }
        }

        private string Line()
        {
            int end = data.AsSpan(at, Math.Min(MaxGlobalLine, data.Length - at)).IndexOf((byte)'\n');
            if (end < 0)
            {
                Fail($"a GLOBAL name without its newline within {MaxGlobalLine} bytes");
            }

            string text = Text((uint)end);
            at++;
            return text;
        }

        private long Long1()
        {
            ReadOnlySpan<byte> bytes = Take(Take(1)[0]);
            if (bytes.Length > 8)
            {
                Fail($"LONG1 of {bytes.Length} bytes (integers of at most 8 bytes are read)");
            }

            long value = 0;
            for (int k = bytes.Length - 1; k >= 0; k--)
            {
                value = (value << 8) | bytes[k];
            }

            // Sign-extend from the top bit of the last byte.
            int unused = 64 - (8 * bytes.Length);
            return bytes.IsEmpty ? 0 : (value << unused) >> unused;
        }

        [DoesNotReturn]
        private void Fail(string problem) => Fail<object>(problem);

        [DoesNotReturn]
        private T Fail<T>(string problem) => InteropThrow.Invalid<T>(Format, $"the pickle (data.pkl, byte {opcodeAt}) has {problem}.");
    }
}
