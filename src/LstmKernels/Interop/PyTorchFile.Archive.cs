using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.IO.Compression;

namespace LstmKernels.Interop;

public static partial class PyTorchFile
{
    /// <summary>The archive's entries, the storages read so far and the budgets that bound memory.</summary>
    private sealed partial class Archive
    {
        private readonly Dictionary<string, ZipArchiveEntry> entries = new(StringComparer.Ordinal);
        private readonly Dictionary<string, Storage> storages = new(StringComparer.Ordinal);
        private readonly Dictionary<ViewKey, object> views = new(ViewKey.Comparer);
        private readonly string prefix;
        private readonly long fileLength;
        private readonly long valueBudget;
        private readonly bool bigEndian;
        private long inflateBudget;
        private long valueUnits;

        public Archive(IReadOnlyCollection<ZipArchiveEntry> all, long fileLength)
        {
            this.fileLength = fileLength;
            inflateBudget = (MaxInflation * fileLength) + 4096;
            valueBudget = (UnitsPerFileByte * fileLength) + BudgetSlack;
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

        /// <summary>The length of the file, which the budgets are in proportion to.</summary>
        public long FileLength => fileLength;

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
                return InteropThrow.Invalid<Storage>(Format, $"a persistent id is {Unpickler.Describe(pid)}, not ('storage', an allow-listed storage type, key, location, elements).");
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
            return storage;
        }

        /// <summary>
        /// Charges <paramref name="units"/> (4 bytes each) of what the values read so far keep in memory (views, names)
        /// against the file's budget; false when it is spent (the caller says what it was reading).
        /// </summary>
        public bool TryCharge(long units)
        {
            valueUnits += units;
            return valueUnits <= valueBudget;
        }

        /// <summary>The budget is spent, at <paramref name="what"/>.</summary>
        [DoesNotReturn]
        public void OverBudget(string what) =>
            InteropThrow.Invalid(Format, $"its tensors and names exceed the memory budget of a {fileLength}-byte file, {valueBudget} units of 4 bytes ({UnitsPerFileByte} per byte of file plus {BudgetSlack}; a view costs its elements, at least 1, plus {UnitsPerDimension} per dimension plus {UnitsPerView}, a name {UnitsPerName}), at {what}.");

        /// <summary>
        /// <c>torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata])</c>:
        /// a <see cref="TensorValue"/> on a float storage, an <see cref="OpaqueTensor"/> on an integer or bool one. The
        /// same view again (tied weights) is the same value; each new one is checked and charged to the budget.
        /// </summary>
        public object Rebuild(object?[] args)
        {
            if (args.Length is not (6 or 7) || args[0] is not Storage storage || args[1] is not long offset || args[2] is not object?[] size
                || args[3] is not object?[] stride || args[4] is not bool || args[5] is not PickleDict || (args.Length == 7 && args[6] is not (null or PickleDict)))
            {
                return InteropThrow.Invalid<object>(Format, $"_rebuild_tensor_v2 is called with {Unpickler.Describe(args)}, not (storage, offset, size, stride, requires_grad, backward_hooks).");
            }

            CheckIntegers(size, "size");
            CheckIntegers(stride, "stride");
            if (size.Length != stride.Length || size.Length > MaxRank)
            {
                InteropThrow.Invalid(Format, $"a tensor on {View(storage, offset, size, stride)}: size and stride must have the same length, at most {MaxRank}.");
            }

            var key = new ViewKey(storage, offset, size, stride);
            if (views.TryGetValue(key, out object? same))
            {
                return same;
            }

            long[] sizes = Integers(size), strides = Integers(stride);
            long count = Elements.Count(sizes);
            if (count < 0 || offset < 0 || offset > storage.Elements || strides.AsSpan().ContainsAnyInRange(long.MinValue, -1))
            {
                InteropThrow.Invalid(Format, $"a tensor on {View(storage, offset, size, stride)}: a negative or too large size, offset or stride.");
            }

            if (!TryCharge(Math.Max(count, 1) + (UnitsPerDimension * sizes.Length) + UnitsPerView))
            {
                OverBudget("a tensor on " + View(storage, offset, size, stride));
            }

            CheckView(sizes, strides, offset, storage, count, size, stride);
            int[] shape = Array.ConvertAll(sizes, d => (int)d);
            object tensor = storage.IsFloat ? new TensorValue(shape, Gather(storage, offset, sizes, strides, (int)count)) : new OpaqueTensor(storage.Type, shape);
            views.Add(key, tensor);
            return tensor;
        }

        /// <summary>The unpickled root: a dict of names to tensors.</summary>
        public static Dictionary<string, FloatTensor> ToStateDict(object? root)
        {
            if (root is not PickleDict dict)
            {
                return InteropThrow.Invalid<Dictionary<string, FloatTensor>>(Format, $"the pickle holds {Unpickler.Describe(root)}, not a state_dict (a dict of names to tensors).");
            }

            var tensors = new Dictionary<string, FloatTensor>(dict.Count, StringComparer.Ordinal);
            foreach ((string name, object? value) in dict.Items)
            {
                if (value is OpaqueTensor)
                {
                    continue;
                }

                if (value is not TensorValue t)
                {
                    return InteropThrow.Invalid<Dictionary<string, FloatTensor>>(Format, $"entry {Quote(name)} is {Unpickler.Describe(value)}, not a tensor: only a state_dict is read (torch.save(model.state_dict())), not a checkpoint that holds one.");
                }

                tensors.Add(name, FloatTensor.Owned(name, t.Shape, t.Data));
            }

            return tensors;
        }
    }
}
