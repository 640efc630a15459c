using System.Diagnostics;
using LstmKernels.Interop;

namespace LstmKernels.Tests;

/// <summary>
/// The file readers on thousands of mutated valid files (bytes flipped, runs overwritten with 0x00/0xFF/digits,
/// truncated, extended): each read either succeeds or throws InvalidDataException, never anything else, quickly.
/// </summary>
public sealed class FuzzTests
{
    private const int Mutations = 3000;

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

    private static void Fuzz(byte[] valid, Action<byte[]> read, int seed)
    {
        read(valid);
#pragma warning disable CA5394 // Test data.
        var random = new Random(seed);
        var watch = Stopwatch.StartNew();
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
        }

        Assert.True(rejected > Mutations / 4, $"only {rejected} of {Mutations} mutations were rejected");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"fuzzing took {watch.Elapsed}");
    }
}
