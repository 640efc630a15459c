using System.Globalization;
using System.IO.Compression;

namespace LstmKernels.Interop;

public static partial class PyTorchFile
{
    /// <summary>The archive's entries, the storages read so far and the budgets that bound memory.</summary>
    private sealed class Archive
    {
        private readonly Dictionary<string, ZipArchiveEntry> entries = new(StringComparer.Ordinal);
        private readonly Dictionary<string, Storage> storages = new(StringComparer.Ordinal);
        private readonly Dictionary<string, TensorValue> views = new(StringComparer.Ordinal);
        private readonly string prefix;
        private readonly long fileLength;
        private readonly bool bigEndian;
        private long inflateBudget;
        private long storageElements;
        private long tensorElements;

        public Archive(IReadOnlyCollection<ZipArchiveEntry> all, long fileLength)
        {
            this.fileLength = fileLength;
            inflateBudget = (MaxInflation * fileLength) + 4096;
            string? found = null;
            foreach (ZipArchiveEntry entry in all)
            {
                string name = entry.FullName;
                int slash = name.IndexOf('/', StringComparison.Ordinal);
                if (slash > 0 && name.AsSpan(slash + 1).SequenceEqual("data.pkl"))
                {
                    if (found is not null)
                    {
                        InteropThrow.Invalid(Format, $"it holds two pickles, {Quote(found + "data.pkl")} and {Quote(name)}.");
                    }

                    found = name[..(slash + 1)];
                }

                if (!entries.TryAdd(name, entry))
                {
                    InteropThrow.Invalid(Format, $"entry {Quote(name)} appears twice.");
                }
            }

            if (found is null)
            {
                InteropThrow.Invalid(Format, "the zip archive has no '<archive>/data.pkl' entry (it is not a torch.save file).");
            }

            prefix = found;
            byte[]? order = ReadEntry("byteorder", required: false, maxBytes: 16);
            bigEndian = order is not null && order.AsSpan().SequenceEqual("big"u8);
            if (order is not null && !bigEndian && !order.AsSpan().SequenceEqual("little"u8))
            {
                InteropThrow.Invalid(Format, $"entry {Quote(prefix + "byteorder")} is neither 'little' nor 'big'.");
            }

            byte[]? version = ReadEntry("version", required: false, maxBytes: 16);
            ReadOnlySpan<byte> digits = version is null ? "0"u8 : version.AsSpan().TrimEnd("\n"u8);
            if (digits.IsEmpty || digits.ContainsAnyExceptInRange((byte)'0', (byte)'9'))
            {
                InteropThrow.Invalid(Format, $"entry {Quote(prefix + "version")} does not hold a number.");
            }
        }

        /// <summary>An entry's bytes, read as far as its data goes (never allocated from the size it declares alone).</summary>
        public byte[]? ReadEntry(string name, bool required, long maxBytes = long.MaxValue)
        {
            if (!entries.TryGetValue(prefix + name, out ZipArchiveEntry? entry))
            {
                return required ? InteropThrow.Invalid<byte[]>(Format, $"entry {Quote(prefix + name)} is missing.") : null;
            }

            long declared = entry.Length;
            if (declared > maxBytes)
            {
                InteropThrow.Invalid(Format, $"entry {Quote(prefix + name)} declares {declared} bytes, more than the {maxBytes} it can hold.");
            }

            if (declared < 0 || declared > inflateBudget || declared > Array.MaxLength)
            {
                InteropThrow.Invalid(Format, $"entry {Quote(prefix + name)} declares {declared} bytes, which would inflate the archive to more than {MaxInflation} times its {fileLength} bytes.");
            }

            inflateBudget -= declared;

            // A stored entry (what torch writes) holds at most the file; a deflated one grows as its data arrives.
            byte[] buffer = new byte[(int)Math.Min(declared, Math.Min(fileLength, Array.MaxLength))];
            int total = 0;
            bool longer = false;
            try
            {
                using Stream s = entry.Open();
                while (true)
                {
                    if (total == buffer.Length)
                    {
                        if (total == declared)
                        {
                            longer = s.ReadByte() >= 0;
                            break;
                        }

                        Array.Resize(ref buffer, (int)Math.Min(declared, (2L * buffer.Length) + 4096));
                    }

                    int n = s.Read(buffer, total, buffer.Length - total);
                    if (n == 0)
                    {
                        break;
                    }

                    total += n;
                }
            }
            catch (Exception e) when (IsZipError(e))
            {
                return InteropThrow.Invalid<byte[]>(Format, $"entry {Quote(prefix + name)} cannot be read, the zip archive is damaged: {e.Message}");
            }

            if (longer || total != declared)
            {
                InteropThrow.Invalid(Format, $"entry {Quote(prefix + name)} holds {(longer ? "more" : total.ToString(CultureInfo.InvariantCulture))} bytes, but its header says {declared}.");
            }

            return buffer;
        }

        /// <summary>The persistent id <c>('storage', torch.XStorage, key, location, elements)</c>: the storage's bytes.</summary>
        public Storage Load(object? pid)
        {
            if (pid is not object?[] { Length: 5 } id || id[0] is not "storage" || id[1] is not PickleGlobal type || type < PickleGlobal.FloatStorage
                || id[2] is not string key || id[3] is not string || id[4] is not long elements || elements < 0)
            {
                return InteropThrow.Invalid<Storage>(Format, $"a persistent id is {Unpickler.Describe(pid)}, not ('storage', a float storage type, key, location, elements).");
            }

            if (storages.TryGetValue(key, out Storage? known))
            {
                if (known.Type != type || known.Elements != elements)
                {
                    InteropThrow.Invalid(Format, $"storage {Quote(key)} is referred to as {Unpickler.Name(known.Type)} of {known.Elements} elements and as {Unpickler.Name(type)} of {elements}.");
                }

                return known;
            }

            int size = Storage.SizeOf(type);
            if (!entries.TryGetValue(prefix + "data/" + key, out ZipArchiveEntry? entry) || elements > Array.MaxLength / size || entry.Length != elements * size)
            {
                InteropThrow.Invalid(Format, $"storage {Quote(key)} ({Unpickler.Name(type)} of {elements} elements) has no entry {Quote(prefix + "data/" + key)} of {Math.Min(elements, Array.MaxLength) * size} bytes.");
            }

            var storage = new Storage(key, type, elements, ReadEntry("data/" + key, required: true)!);
            storages.Add(key, storage);
            storageElements += elements;
            return storage;
        }

        /// <summary><c>torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata])</c>.</summary>
        public TensorValue Rebuild(object?[] args)
        {
            if (args.Length is not (6 or 7) || args[0] is not Storage storage || args[1] is not long offset || args[2] is not object?[] size
                || args[3] is not object?[] stride || args[4] is not bool || args[5] is not PickleDict || (args.Length == 7 && args[6] is not (null or PickleDict)))
            {
                return InteropThrow.Invalid<TensorValue>(Format, $"_rebuild_tensor_v2 is called with {Unpickler.Describe(args)}, not (storage, offset, size, stride, requires_grad, backward_hooks).");
            }

            long[] sizes = Integers(size, "size"), strides = Integers(stride, "stride");
            string view = $"storage {Quote(storage.Key)} ({Unpickler.Name(storage.Type)} of {storage.Elements} elements) viewed at offset {offset} with size ({string.Join(", ", sizes)}) and stride ({string.Join(", ", strides)})";
            if (sizes.Length != strides.Length || sizes.Length > 64)
            {
                InteropThrow.Invalid(Format, $"a tensor on {view}: size and stride must have the same length, at most 64.");
            }

            long count = Elements.Count(sizes);
            if (count < 0 || offset < 0 || offset > storage.Elements || strides.AsSpan().ContainsAnyInRange(long.MinValue, -1))
            {
                InteropThrow.Invalid(Format, $"a tensor on {view}: a negative or too large size, offset or stride.");
            }

            if (views.TryGetValue(view, out TensorValue? same))
            {
                return same;
            }

            CheckView(sizes, strides, offset, storage.Elements, count, view);
            tensorElements += count;
            if (tensorElements > MaxElementsPerStorageElement * storageElements)
            {
                InteropThrow.Invalid(Format, $"the tensors hold {tensorElements} elements, more than {MaxElementsPerStorageElement} times the {storageElements} of their storages (at {view}).");
            }

            int[] shape = Array.ConvertAll(sizes, d => (int)d);
            var tensor = new TensorValue(shape, Gather(storage, offset, sizes, strides, (int)count));
            views.Add(view, tensor);
            return tensor;
        }

        /// <summary>The unpickled root: a dict of names to tensors.</summary>
        public static Dictionary<string, FloatTensor> ToStateDict(object? root)
        {
            if (root is not PickleDict dict)
            {
                return InteropThrow.Invalid<Dictionary<string, FloatTensor>>(Format, $"the pickle holds {Unpickler.Describe(root)}, not a state_dict (a dict of names to tensors).");
            }

            var tensors = new Dictionary<string, FloatTensor>(dict.Items.Count, StringComparer.Ordinal);
            foreach ((object? key, object? value) in dict.Items)
            {
                if (key is not string name)
                {
                    return InteropThrow.Invalid<Dictionary<string, FloatTensor>>(Format, $"the state_dict has the key {Unpickler.Describe(key)}, not a string.");
                }

                if (value is not TensorValue t)
                {
                    return InteropThrow.Invalid<Dictionary<string, FloatTensor>>(Format, $"entry {Quote(name)} is {Unpickler.Describe(value)}, not a tensor: only a state_dict is read (torch.save(model.state_dict())), not a checkpoint that holds one.");
                }

                if (!tensors.TryAdd(name, FloatTensor.Owned(name, t.Shape, t.Data)))
                {
                    InteropThrow.Invalid(Format, $"entry {Quote(name)} appears twice.");
                }
            }

            return tensors;
        }

        /// <summary>The view stays inside the storage and no two of its elements share a storage element.</summary>
        private static void CheckView(long[] sizes, long[] strides, long offset, long elements, long count, string view)
        {
            if (count == 0)
            {
                return;
            }

            if (offset >= elements)
            {
                InteropThrow.Invalid(Format, $"a tensor on {view} reaches outside its storage.");
            }

            // Dimensions of size 1 do not move; the others, taken by growing stride, must each step past all the
            // elements the smaller ones reach (else two indices meet), and the last element must be in the storage.
            var moving = new List<(long Stride, long Size)>();
            for (int d = 0; d < sizes.Length; d++)
            {
                if (sizes[d] > 1)
                {
                    if (strides[d] > elements)
                    {
                        InteropThrow.Invalid(Format, $"a tensor on {view} reaches outside its storage.");
                    }

                    moving.Add((strides[d], sizes[d]));
                }
            }

            moving.Sort();
            long reach = 0;
            foreach ((long stride, long size) in moving)
            {
                if (stride <= reach)
                {
                    InteropThrow.Invalid(Format, $"a tensor on {view} has overlapping elements (a zero or interleaved stride); only views whose elements are distinct are read.");
                }

                // stride ≤ elements and size ≤ Array.MaxLength: no overflow, and reach stays below elements.
                reach += (size - 1) * stride;
                if (offset + reach >= elements)
                {
                    InteropThrow.Invalid(Format, $"a tensor on {view} reaches outside its storage.");
                }
            }
        }

        private static long[] Integers(object?[] tuple, string what)
        {
            long[] values = new long[tuple.Length];
            for (int k = 0; k < tuple.Length; k++)
            {
                values[k] = tuple[k] is long v ? v : InteropThrow.Invalid<long>(Format, $"a tensor's {what} holds {Unpickler.Describe(tuple[k])}, not an integer.");
            }

            return values;
        }

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
}
