using System.IO.Compression;
using LstmKernels.Interop;

namespace LstmKernels.Tests;

/// <summary>
/// The file readers on thousands of mutated valid files (bytes flipped, runs overwritten with 0x00/0xFF/digits,
/// truncated, extended): each read either succeeds or throws InvalidDataException, never anything else, and never
/// allocates more than a small multiple of the file's real size, whatever sizes the file declares.
/// </summary>
public sealed class FuzzTests
{
    private const int Mutations = 3000;

    /// <summary>
    /// Bytes a read may allocate per byte of file: the tensors (float32 from float16 doubles the bytes), the header's
    /// strings and dictionaries.
    /// </summary>
    private const long PerFileByte = 16;

    /// <summary>Fixed allowance: an exception with its message and stack trace, a zip archive's buffers.</summary>
    private const long Slack = 1 << 20;

    [Fact]
    public void Fuzz_Safetensors() => Fuzz(
        SafetensorsFile.Write([new FloatTensor("weight_ih_l0", [8, 2], Generators.Fill(16, Dist.Unit, 1)), new FloatTensor("b", [8], Generators.Fill(8, Dist.Unit, 2))]),
        bytes => SafetensorsFile.Read(bytes),
        1);

    [Fact]
    public void Fuzz_Npy() => Fuzz(NpyFile.Write(new FloatTensor("w", [3, 4], Generators.Fill(12, Dist.Unit, 3))), bytes => NpyFile.Read(bytes), 2);

    [Fact]
    public void Fuzz_Npz() => Fuzz(
        NpzFile.Write([new FloatTensor("w", [3, 4], Generators.Fill(12, Dist.Unit, 3)), new FloatTensor("b", [5], Generators.Fill(5, Dist.Unit, 4))]),
        bytes => NpzFile.Read(bytes, 1 << 20),
        3);

    [Fact]
    public void Fuzz_OnnxWritten() => Fuzz(
        OnnxFile.Write(OnnxFileTests.Create(new OnnxWriteConfig(3, 4, 2, LstmDirection.Bidirectional, true, true, true, 2f, false, LstmActivation.Sigmoid, LstmActivation.Tanh, LstmActivation.Tanh, WeightPrecision.Float32, 1, 1, 4))),
        bytes => OnnxFile.ReadLstm(bytes),
        4);

    [Fact]
    public void Fuzz_OnnxFromPyTorch() => Fuzz(
        File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", "onnx", "torch_2layer_bidirectional_batchfirst_opset17.onnx")),
        bytes => OnnxFile.ReadLstm(bytes),
        5);

    /// <summary>A torch.save archive of PyTorch 1.13.1 (a 2-layer stack), mutated as a whole.</summary>
    [Fact]
    public void Fuzz_PyTorchFile() => Fuzz(File.ReadAllBytes(PyTorchFixture("stack.pt")), bytes => PyTorchFile.Read(bytes), 4);

    /// <summary>
    /// Its pickle alone, mutated and archived again with the real storages (whole-archive mutations mostly stop at the
    /// zip's own checks): every path of the restricted unpickler and of the tensor rebuild.
    /// </summary>
    [Fact]
    public void Fuzz_PyTorchPickle()
    {
        using ZipArchive zip = ZipFile.OpenRead(PyTorchFixture("stack.pt"));
        var entries = zip.Entries.Select(e =>
        {
            using var s = new MemoryStream();
            using (Stream entry = e.Open())
            {
                entry.CopyTo(s);
            }

            return (e.FullName, Bytes: s.ToArray());
        }).ToArray();
        byte[] pickle = entries.Single(e => e.FullName == "stack/data.pkl").Bytes;
        Fuzz(pickle, bytes => PyTorchFile.Read(bytes), 5, bytes => PyTorchFileTests.Zip([.. entries.Select(e => e.FullName == "stack/data.pkl" ? (e.FullName, bytes) : e)]));
    }

    private static string PyTorchFixture(string file) => Path.Combine(AppContext.BaseDirectory, "Fixtures", "pytorch", file);

    /// <summary>Mutates <paramref name="valid"/>; <paramref name="prepare"/> (not measured) makes the file a mutation is read as.</summary>
    private static void Fuzz(byte[] valid, Action<byte[]> read, int seed, Func<byte[], byte[]>? prepare = null)
    {
        prepare ??= bytes => bytes;
        read(prepare(valid));
#pragma warning disable CA5394 // Test data.
        var random = new Random(seed);
        int rejected = 0;
        for (int n = 0; n < Mutations; n++)
        {
            byte[] bytes = (byte[])valid.Clone();
            switch (random.Next(5))
            {
                case 0:
                    for (int k = random.Next(1, 4); k > 0; k--)
                    {
                        bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                    }

                    break;
                case 1:
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                    break;
                case 2:
                    int at = random.Next(bytes.Length), len = Math.Min(random.Next(1, 9), bytes.Length - at);
                    byte fill = ((ReadOnlySpan<byte>)[0, 0xFF, (byte)'9', (byte)',', (byte)':', (byte)'[', (byte)']', (byte)'{', (byte)'}', (byte)'\'', (byte)'"', (byte)' '])[random.Next(12)];
                    bytes.AsSpan(at, len).Fill(fill);
                    break;
                case 3:
                    bytes = bytes[..random.Next(bytes.Length)];
                    break;
                default:
                    bytes = [.. bytes, .. new byte[random.Next(1, 16)]];
                    break;
            }
#pragma warning restore CA5394

            bytes = prepare(bytes);
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                read(bytes);
            }
            catch (InvalidDataException)
            {
                rejected++;
            }
            catch (Exception e)
            {
                Assert.Fail($"mutation {n}: {e.GetType().Name}: {e.Message}");
            }

            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated <= (PerFileByte * bytes.Length) + Slack, $"mutation {n}: a {bytes.Length}-byte file made the reader allocate {allocated} bytes");
        }

        Assert.True(rejected > Mutations / 4, $"only {rejected} of {Mutations} mutations were rejected");
    }

    /// <summary>Files that declare billions of elements but hold a few bytes: rejected before anything that size is allocated.</summary>
    [Fact]
    public void HugeDeclaredSizes_AreRejectedWithoutHugeAllocations()
    {
        // Controls: the same builders with honest sizes give files that read, so the rejections below are about sizes.
        Assert.Equal(4, NpyFile.Read(NpyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }")).Data.Length);
        Assert.Equal(4, SafetensorsFile.Read(SafetensorsWithHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}"))["w"].Data.Length);

        byte[] npy = NpyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2000000000,), }");
        AssertRejectedCheaply(() => NpyFile.Read(npy), npy.Length);

        byte[] npyOverflow = NpyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }");
        AssertRejectedCheaply(() => NpyFile.Read(npyOverflow), npyOverflow.Length);

        byte[] safetensors = SafetensorsWithHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[1000000000],\"data_offsets\":[0,4000000000]}}");
        AssertRejectedCheaply(() => SafetensorsFile.Read(safetensors), safetensors.Length);

        byte[] hugeHeader = [.. BitConverter.GetBytes((ulong)int.MaxValue * 4), .. "{}"u8];
        AssertRejectedCheaply(() => SafetensorsFile.Read(hugeHeader), hugeHeader.Length);
    }

    private static void AssertRejectedCheaply(Action read, int fileBytes)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<InvalidDataException>(read);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated <= (PerFileByte * fileBytes) + Slack, $"a {fileBytes}-byte file made the reader allocate {allocated} bytes");
    }

    /// <summary>A version-1 .npy file with the given header dictionary (padded as the format requires) and 16 data bytes.</summary>
    private static byte[] NpyWithHeader(string header)
    {
        int unpadded = 10 + header.Length + 1;
        string padded = header + new string(' ', (64 - (unpadded % 64)) % 64) + "\n";
        byte[] text = System.Text.Encoding.ASCII.GetBytes(padded);
        return [0x93, .. "NUMPY"u8, 1, 0, (byte)text.Length, (byte)(text.Length >> 8), .. text, .. new byte[16]];
    }

    /// <summary>A safetensors file: 8-byte little-endian header length, the JSON header, 16 data bytes.</summary>
    private static byte[] SafetensorsWithHeader(string json)
    {
        byte[] text = System.Text.Encoding.UTF8.GetBytes(json);
        return [.. BitConverter.GetBytes((ulong)text.Length), .. text, .. new byte[16]];
    }
}
