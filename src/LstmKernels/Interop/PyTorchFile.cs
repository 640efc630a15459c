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
/// <c>torch._utils._rebuild_parameter</c> (<c>state_dict(keep_vars=True)</c>) and the storage types
/// <c>torch.FloatStorage</c>, <c>torch.HalfStorage</c>, <c>torch.BFloat16Storage</c>, <c>torch.DoubleStorage</c>. Any other
/// global (<c>posix.system</c>, <c>builtins.eval</c>, a model class, <c>torch.LongStorage</c>, …) gives
/// <see cref="InvalidDataException"/> naming its module and name, and so does any pickle opcode a state_dict does not
/// need (protocols 2 to 5 are read; torch writes 2).
/// </para>
/// <para>
/// Values are converted to float32 (float64 rounded to nearest). Storage offsets and strides are honoured: a
/// non-contiguous view (a transposed or sliced tensor) is gathered into row-major order; a view that reaches outside
/// its storage or whose elements overlap (a zero stride, an <c>expand</c>ed tensor) is refused. Strict like the other
/// readers: a damaged archive, a missing or repeated entry, a storage whose size differs from its entry, a value that
/// is not a tensor (a checkpoint holding a state_dict, an int), the legacy non-zip format, all give
/// <see cref="InvalidDataException"/> naming the problem. Memory is bounded by the file's size: entries are read only
/// as far as their data goes, an archive that inflates to more than four times its size is refused (torch stores
/// entries uncompressed), the pickle's stack and memo are capped, and the tensors may hold at most four times the
/// elements of the storages they view.
/// </para>
/// </remarks>
public static partial class PyTorchFile
{
    private const string Format = "torch.save";

    /// <summary>How many times its own size an archive may inflate to (torch.save stores its entries uncompressed).</summary>
    private const long MaxInflation = 4;

    /// <summary>How many elements the tensors may hold per element of the storages they view (shared storages, views).</summary>
    private const long MaxElementsPerStorageElement = 4;

    /// <summary>Reads a <c>torch.save</c> file of a state_dict from disk.</summary>
    /// <param name="path">The file (<c>.pt</c>, <c>.pth</c>, <c>.bin</c>, …).</param>
    /// <returns>The tensors by name, in the state_dict's order.</returns>
    /// <exception cref="InvalidDataException">The file is not a <c>torch.save</c> archive of a state_dict of float tensors.</exception>
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
    /// <returns>The tensors by name, in the state_dict's order.</returns>
    /// <exception cref="InvalidDataException">The bytes are not a <c>torch.save</c> archive of a state_dict of float tensors.</exception>
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
            PickleGlobal.DoubleStorage => 8,
            PickleGlobal.FloatStorage => 4,
            _ => 2,
        };

        public string Key { get; } = key;

        public PickleGlobal Type { get; } = type;

        public long Elements { get; } = elements;

        public byte[] Bytes { get; } = bytes;

        public int ElementSize => SizeOf(Type);
    }

    /// <summary>A rebuilt tensor (before it has a name): its dimensions and its values, row-major.</summary>
    private sealed class TensorValue(int[] shape, float[] data)
    {
        public int[] Shape { get; } = shape;

        public float[] Data { get; } = data;
    }
}
