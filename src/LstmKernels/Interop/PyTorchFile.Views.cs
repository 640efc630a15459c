using System.Runtime.CompilerServices;

namespace LstmKernels.Interop;

public static partial class PyTorchFile
{
    /// <summary>The archive's views: their checks, their messages and their gathering into row-major order.</summary>
    private sealed partial class Archive
    {
        /// <summary>
        /// The view stays inside the storage and, on a float storage (whose values are read), no two of its elements
        /// share a storage element. Dimensions of size 1 do not move, so their strides do not matter (PyTorch leaves any
        /// stride there); a view without elements reads nothing (it was charged to the budget all the same).
        /// </summary>
        private static void CheckView(long[] sizes, long[] strides, long offset, Storage storage, long count, object?[] size, object?[] stride)
        {
            long elements = storage.Elements;
            if (count == 0)
            {
                return;
            }

            if (offset >= elements)
            {
                InteropThrow.Invalid(Format, $"a tensor on {View(storage, offset, size, stride)} reaches outside its storage.");
            }

            // The moving dimensions, taken by growing stride, must each step past all the elements the smaller ones
            // reach (else two indices meet), and the last element must be in the storage.
            var moving = new List<(long Stride, long Size)>();
            for (int d = 0; d < sizes.Length; d++)
            {
                if (sizes[d] > 1)
                {
                    if (strides[d] > elements)
                    {
                        InteropThrow.Invalid(Format, $"a tensor on {View(storage, offset, size, stride)} reaches outside its storage.");
                    }

                    moving.Add((strides[d], sizes[d]));
                }
            }

            moving.Sort();
            long reach = 0;
            foreach ((long s, long n) in moving)
            {
                if (s <= reach && storage.IsFloat)
                {
                    InteropThrow.Invalid(Format, $"a tensor on {View(storage, offset, size, stride)} has overlapping elements (a zero or interleaved stride); only views whose elements are distinct are read.");
                }

                // stride ≤ elements and size ≤ Array.MaxLength: no overflow, and reach stays below elements.
                reach += (n - 1) * s;
                if (offset + reach >= elements)
                {
                    InteropThrow.Invalid(Format, $"a tensor on {View(storage, offset, size, stride)} reaches outside its storage.");
                }
            }
        }

        /// <summary>The view, for a message (only built on the failure path).</summary>
        private static string View(Storage storage, long offset, object?[] size, object?[] stride) =>
            $"storage {Quote(storage.Key)} ({Unpickler.Name(storage.Type)} of {storage.Elements} elements) viewed at offset {offset} with size ({Join(size)}) and stride ({Join(stride)})";

        private static string Join(object?[] tuple) =>
            tuple.Length > 8 ? string.Join(", ", tuple.Take(8)) + $", … ({tuple.Length} in all)" : string.Join(", ", tuple);

        /// <summary>Every item of a size or stride is an int (checked without allocating).</summary>
        private static void CheckIntegers(object?[] tuple, string what)
        {
            foreach (object? item in tuple)
            {
                if (item is not long)
                {
                    InteropThrow.Invalid(Format, $"a tensor's {what} holds {Unpickler.Describe(item)}, not an integer.");
                }
            }
        }

        private static long[] Integers(object?[] tuple) => Array.ConvertAll(tuple, v => (long)v!);

        private float[] Gather(Storage storage, long offset, long[] sizes, long[] strides, int count)
        {
            int size = storage.ElementSize;
            bool brain = storage.Type == PickleGlobal.BFloat16Storage;
            ReadOnlySpan<byte> bytes = storage.Bytes;
            bool contiguous = true;
            long expected = 1;
            for (int d = sizes.Length - 1; d >= 0; d--)
            {
                contiguous &= sizes[d] == 1 || strides[d] == expected;
                expected *= sizes[d];
            }

            if (contiguous)
            {
                return Elements.ToFloats(bytes[(int)(offset * size)..], size, brain, bigEndian, count);
            }

            float[] values = new float[count];
            long[] index = new long[sizes.Length];
            long at = offset;
            for (int k = 0; k < count; k++)
            {
                values[k] = Elements.ToFloat(bytes.Slice((int)(at * size), size), brain, bigEndian);

                // Row-major: the last index moves fastest; carry into the earlier ones.
                for (int d = sizes.Length - 1; d >= 0; d--)
                {
                    if (sizes[d] == 1)
                    {
                        continue;
                    }

                    at += strides[d];
                    if (++index[d] < sizes[d])
                    {
                        break;
                    }

                    at -= sizes[d] * strides[d];
                    index[d] = 0;
                }
            }

            return values;
        }
    }

    /// <summary>A view's identity: its storage (by reference), its offset and the values of its size and stride tuples (all ints).</summary>
    private readonly record struct ViewKey(Storage Storage, long Offset, object?[] Size, object?[] Stride)
    {
        public static IEqualityComparer<ViewKey> Comparer { get; } = new ValueComparer();

        private sealed class ValueComparer : IEqualityComparer<ViewKey>
        {
            public bool Equals(ViewKey x, ViewKey y) =>
                ReferenceEquals(x.Storage, y.Storage) && x.Offset == y.Offset && Same(x.Size, y.Size) && Same(x.Stride, y.Stride);

            public int GetHashCode(ViewKey key)
            {
                var hash = default(HashCode);
                hash.Add(RuntimeHelpers.GetHashCode(key.Storage));
                hash.Add(key.Offset);
                hash.Add(key.Size.Length);
                foreach (object? v in key.Size)
                {
                    hash.Add((long)v!);
                }

                foreach (object? v in key.Stride)
                {
                    hash.Add((long)v!);
                }

                return hash.ToHashCode();
            }

            private static bool Same(object?[] a, object?[] b)
            {
                if (ReferenceEquals(a, b))
                {
                    return true;
                }

                if (a.Length != b.Length)
                {
                    return false;
                }

                for (int k = 0; k < a.Length; k++)
                {
                    if ((long)a[k]! != (long)b[k]!)
                    {
                        return false;
                    }
                }

                return true;
            }
        }
    }
}
