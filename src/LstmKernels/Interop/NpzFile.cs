using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace LstmKernels.Interop;

/// <summary>
/// Reads and writes numpy's <c>.npz</c> archives (<c>np.savez</c> / <c>np.savez_compressed</c>): a zip of <c>.npy</c>
/// files, one per array, named after the array.
/// </summary>
/// <remarks>
/// Strict like <see cref="NpyFile"/>: a damaged zip, an entry that is not <c>.npy</c>, a repeated name, more than
/// 10 000 entries, or more uncompressed data than <c>maxUncompressedBytes</c> (a zip bomb) gives
/// <see cref="InvalidDataException"/>.
/// </remarks>
public static class NpzFile
{
    private const string Format = ".npz";

    /// <summary>Reads an .npz archive.</summary>
    /// <param name="file">The whole file.</param>
    /// <param name="maxUncompressedBytes">The most uncompressed bytes accepted over all entries (default 1 GiB).</param>
    /// <returns>The arrays by name (the entry name without <c>.npy</c>).</returns>
    /// <exception cref="InvalidDataException">The bytes are not a valid .npz of float arrays, or exceed the limit.</exception>
    public static IReadOnlyDictionary<string, FloatTensor> Read(byte[] file, long maxUncompressedBytes = 1L << 30)
    {
        ArgumentNullException.ThrowIfNull(file);
        try
        {
            using var zip = new ZipArchive(new MemoryStream(file, writable: false), ZipArchiveMode.Read);
            if (zip.Entries.Count > 10_000)
            {
                InteropThrow.Invalid(Format, $"it has {zip.Entries.Count} entries, more than 10000.");
            }

            var arrays = new Dictionary<string, FloatTensor>(StringComparer.Ordinal);
            long total = 0;
            foreach (ZipArchiveEntry entry in zip.Entries)
            {
                if (!entry.FullName.EndsWith(".npy", StringComparison.Ordinal))
                {
                    InteropThrow.Invalid(Format, $"entry '{entry.FullName}' is not an .npy file.");
                }

                string name = entry.FullName[..^4];
                total += entry.Length;
                if (entry.Length < 0 || total > maxUncompressedBytes || entry.Length > Array.MaxLength)
                {
                    InteropThrow.Invalid(Format, $"entry '{entry.FullName}' brings the uncompressed size to {total} bytes, over the limit of {maxUncompressedBytes}.");
                }

                byte[] bytes = new byte[entry.Length];
                using (Stream s = entry.Open())
                {
                    s.ReadExactly(bytes);
                    if (s.ReadByte() >= 0)
                    {
                        InteropThrow.Invalid(Format, $"entry '{entry.FullName}' holds more data than its declared size.");
                    }
                }

                if (!arrays.TryAdd(name, NpyFile.Read(bytes, name)))
                {
                    InteropThrow.Invalid(Format, $"array '{name}' appears twice.");
                }
            }

            return arrays;
        }
        catch (Exception e) when (e is IOException or NotSupportedException or ArgumentException or InvalidOperationException && e is not InvalidDataException)
        {
            return InteropThrow.Invalid<IReadOnlyDictionary<string, FloatTensor>>(Format, "the zip archive is damaged: " + e.Message);
        }
    }

    /// <summary>Writes float32 arrays as an .npz archive (deflate-compressed, like <c>np.savez_compressed</c>).</summary>
    /// <param name="tensors">The arrays; each is stored as <c>name.npy</c>.</param>
    /// <returns>The file's bytes.</returns>
    public static byte[] Write(IEnumerable<FloatTensor> tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        using var file = new MemoryStream();
        using (var zip = new ZipArchive(file, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (FloatTensor t in tensors)
            {
                ZipArchiveEntry entry = zip.CreateEntry(t.Name + ".npy", CompressionLevel.Fastest);
                using Stream s = entry.Open();
                s.Write(NpyFile.Write(t));
            }
        }

        return file.ToArray();
    }
}
