using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace LstmKernels.Interop;

/// <summary>
/// Reads the files of <c>torch.save(model.state_dict(), path)</c> (PyTorch 1.6 and later): a zip archive holding
/// <c>&lt;archive&gt;/data.pkl</c> (the dictionary, pickled), one entry <c>&lt;archive&gt;/data/&lt;key&gt;</c> per storage,
/// <c>&lt;archive&gt;/version</c> and, from PyTorch 2.1, <c>&lt;archive&gt;/byteorder</c>. The tensors feed
/// <see cref="PyTorchStateDict.CreateLstm(IReadOnlyDictionary{string, FloatTensor}, string, LstmOptions)"/> as
/// <see cref="SafetensorsFile"/>'s do.
/// </summary>
/// <remarks>
/// <para>
/// The pickle is read by a restricted reader of the library's own: no code in the file is run, and only the globals a
/// state_dict needs are accepted: <c>collections.OrderedDict</c>, <c>torch._utils._rebuild_tensor_v2</c>,
/// <c>torch._utils._rebuild_parameter</c> (<c>state_dict(keep_vars=True)</c>), the float storage types
/// <c>torch.FloatStorage</c>, <c>torch.HalfStorage</c>, <c>torch.BFloat16Storage</c>, <c>torch.DoubleStorage</c>, and
/// the integer and bool storage types <c>torch.LongStorage</c>, <c>torch.IntStorage</c>, <c>torch.ShortStorage</c>,
/// <c>torch.CharStorage</c>, <c>torch.ByteStorage</c>, <c>torch.BoolStorage</c>. Any other global
/// (<c>posix.system</c>, <c>builtins.eval</c>, a model class, <c>torch.ComplexFloatStorage</c>, …) gives
/// <see cref="InvalidDataException"/> naming its module and name, and so does any pickle opcode a state_dict does not
/// need (protocols 2 to 5 are read; torch writes 2).
/// </para>
/// <para>
/// Tensors on integer and bool storages (a BatchNorm's <c>num_batches_tracked</c>, a <c>position_ids</c> buffer, a
/// mask) are opaque: their values are never read, and they are left out of the dictionary returned, so the float tensors
/// of a model that holds them are read. Their entries are checked (present, of the size declared) and count against the
/// memory budgets like the others, and their views must stay inside their storages (they may overlap: nothing is read).
/// </para>
/// <para>
/// Values are converted to float32 (float64 rounded to nearest). Storage offsets and strides are honoured: a
/// non-contiguous view (a transposed or sliced tensor) is gathered into row-major order; a view that reaches outside
/// its storage or whose elements overlap (a zero stride, an <c>expand</c>ed tensor) is refused. Strict like the other
/// readers: a damaged archive, a missing or repeated entry, a storage whose size differs from its entry, a key that is
/// not a str or that appears twice, a value that is not a tensor (a checkpoint holding a state_dict, an int), the
/// legacy non-zip format, all give <see cref="InvalidDataException"/> naming the problem.
/// </para>
/// <para>
/// Memory is bounded by the file's size: entries are read only as far as their data goes, an archive that inflates to
/// more than four times its size is refused (torch stores entries uncompressed), the pickle's stack and memo are
/// capped (the stack to 4096 values plus one per 8 bytes of pickle), the objects the pickle builds (tuples, dicts,
/// strs, ints, memo entries) are charged against 8 bytes per byte of file plus 64 KiB, and what the values keep is
/// charged, as it is built, against a budget of two units of 4 bytes per byte of file plus 4096: each distinct view its
/// elements (at least 1, so views without elements count too) plus 5 per dimension plus 64, each name of a dict 32. The
/// same view again (tied weights) is shared and not charged again. Measured, no file makes a read allocate more than
/// 16 bytes per byte of file plus 1 MiB.
/// </para>
/// </remarks>
public static partial class PyTorchFile
{
    private const string Format = "torch.save";

    /// <summary>How many times its own size an archive may inflate to (torch.save stores its entries uncompressed).</summary>
    private const long MaxInflation = 4;

    /// <summary>
    /// Units of 4 bytes that the values read (views, names) may keep in memory per byte of file: a float32 view holds an
    /// element of 4 bytes per unit; a float32 state_dict uses about an eighth of its budget, a float16 one a quarter, one
    /// of thousands of two-element views of a single storage (flattened parameters) about two thirds.
    /// </summary>
    private const long UnitsPerFileByte = 2;

    /// <summary>Units every file may use whatever its length (16 KiB): the small hand-made archives of a few views.</summary>
    private const long BudgetSlack = 4096;

    /// <summary>Units a view costs per dimension: its size and stride as kept (2 longs) and its shape (an int).</summary>
    private const long UnitsPerDimension = 5;

    /// <summary>Units a view costs besides its elements and dimensions: its objects and its entry in the cache of views.</summary>
    private const long UnitsPerView = 64;

    /// <summary>Units a name of a dict costs: its entry, its tensor object and its place in the returned dictionary.</summary>
    private const long UnitsPerName = 32;

    /// <summary>The most dimensions a tensor may have (PyTorch's own limit is 64 too).</summary>
    private const int MaxRank = 64;

    /// <summary>Reads a <c>torch.save</c> file of a state_dict from disk.</summary>
    /// <param name="path">The file (<c>.pt</c>, <c>.pth</c>, <c>.bin</c>, …).</param>
    /// <returns>The float tensors by name, in the state_dict's order (integer and bool tensors left out).</returns>
    /// <exception cref="InvalidDataException">The file is not a <c>torch.save</c> archive of a state_dict of tensors (float ones are read, integer and bool ones left out), or its values exceed the memory budget of its size.</exception>
    /// <remarks>The archive is read from the file as needed (not loaded whole), so files over 2 GB are read too.</remarks>
    public static IReadOnlyDictionary<string, FloatTensor> ReadFile(string path)
    {
        using FileStream file = File.OpenRead(path);
        Span<byte> head = stackalloc byte[4];
        int count = file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
        file.Position = 0;
        return ReadArchive(file, head[..count]);
    }

    /// <summary>Reads the bytes of a <c>torch.save</c> file of a state_dict.</summary>
    /// <param name="file">The whole file.</param>
    /// <returns>The float tensors by name, in the state_dict's order (integer and bool tensors left out).</returns>
    /// <exception cref="InvalidDataException">The bytes are not a <c>torch.save</c> archive of a state_dict of tensors (float ones are read, integer and bool ones left out), or its values exceed the memory budget of their length.</exception>
    public static IReadOnlyDictionary<string, FloatTensor> Read(ReadOnlySpan<byte> file)
    {
        using var stream = new MemoryStream(file.ToArray(), writable: false);
        return ReadArchive(stream, file[..Math.Min(4, file.Length)]);
    }

    /// <summary>The archive in <paramref name="file"/> (seekable, at its start), whose first bytes are <paramref name="head"/>.</summary>
    private static IReadOnlyDictionary<string, FloatTensor> ReadArchive(Stream file, ReadOnlySpan<byte> head)
    {
        if (head.Length >= 2 && head[0] == 0x80 && head[1] <= 5)
        {
            InteropThrow.Invalid(Format, "it is a bare pickle, the legacy torch.save format (PyTorch before 1.6, or _use_new_zipfile_serialization=False), which is not read; save it again with torch.save's default.");
        }

        if (head.Length < 4 || head[0] != (byte)'P' || head[1] != (byte)'K')
        {
            InteropThrow.Invalid(Format, $"it is not a zip archive ({file.Length} bytes; torch.save writes a zip since PyTorch 1.6).");
        }

        ZipArchive? zip = null;
        IReadOnlyCollection<ZipArchiveEntry> entries;
        try
        {
            zip = new ZipArchive(file, ZipArchiveMode.Read, leaveOpen: true);
            entries = zip.Entries;
        }
        catch (Exception e) when (IsZipError(e))
        {
            zip?.Dispose();
            return InteropThrow.Invalid<IReadOnlyDictionary<string, FloatTensor>>(Format, "the zip archive is damaged: " + e.Message);
        }

        using (zip)
        {
            var archive = new Archive(entries, file.Length);
            object? root = new Unpickler(archive.ReadEntry("data.pkl", required: true)!, archive).Run();
            return Archive.ToStateDict(root);
        }
    }

    /// <summary>What System.IO.Compression throws on a damaged archive (its InvalidDataException is rethrown with our prefix).</summary>
    private static bool IsZipError(Exception e) => e is IOException or InvalidDataException or NotSupportedException or InvalidOperationException or ArgumentException;

    /// <summary>The text of a name from the file, cut and escaped for an error message.</summary>
    private static string Quote(string text)
    {
        var s = new StringBuilder("'");
        foreach (char c in text.Length > 200 ? text[..200] : text)
        {
            _ = char.IsControl(c) ? s.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}") : s.Append(c);
        }

        return s.Append(text.Length > 200 ? "…'" : "'").ToString();
    }

    /// <summary>A storage of the archive: its entry's bytes and its element type.</summary>
    private sealed class Storage(string key, PickleGlobal type, long elements, byte[] bytes)
    {
        public static int SizeOf(PickleGlobal type) => type switch
        {
            PickleGlobal.DoubleStorage or PickleGlobal.LongStorage => 8,
            PickleGlobal.FloatStorage or PickleGlobal.IntStorage => 4,
            PickleGlobal.HalfStorage or PickleGlobal.BFloat16Storage or PickleGlobal.ShortStorage => 2,
            _ => 1,
        };

        public string Key { get; } = key;

        public PickleGlobal Type { get; } = type;

        public long Elements { get; } = elements;

        public byte[] Bytes { get; } = bytes;

        public int ElementSize => SizeOf(Type);

        /// <summary>A float storage, whose views are read; the others (integers, bools) are opaque.</summary>
        public bool IsFloat => Type <= PickleGlobal.DoubleStorage;
    }

    /// <summary>
    /// A tensor on an integer or bool storage (a BatchNorm's <c>num_batches_tracked</c>, a <c>position_ids</c> buffer):
    /// its view was checked and charged, its values are never read, and it is left out of the state_dict returned.
    /// </summary>
    private sealed class OpaqueTensor(PickleGlobal type, int[] shape)
    {
        public PickleGlobal Type { get; } = type;

        public int[] Shape { get; } = shape;
    }

    /// <summary>A rebuilt tensor (before it has a name): its dimensions and its values, row-major.</summary>
    private sealed class TensorValue(int[] shape, float[] data)
    {
        public int[] Shape { get; } = shape;

        public float[] Data { get; } = data;
    }
}
