using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace LstmKernels.Benchmarks;

/// <summary>
/// The memory floor of a step: the time to read a buffer of the same size once with the best plain read loop
/// (eight independent <see cref="Vector512{T}"/> accumulators, falling back to <see cref="Vector256{T}"/>), so a
/// kernel that streams its weights once cannot be faster than this from the same cache level.
/// </summary>
internal sealed class ReadFloor(long bytes)
{
    private readonly float[] buffer = Data.Uniform((int)(bytes / sizeof(float)), 1f, seed: 9);

    public long Bytes => (long)buffer.Length * sizeof(float);

    /// <summary>Reads the whole buffer once; returns a sum so the reads cannot be elided.</summary>
    public float Run() => Vector512.IsHardwareAccelerated ? Read512(buffer) : Read256(buffer);

    private static float Read512(float[] data)
    {
        ref float r = ref MemoryMarshal.GetArrayDataReference(data);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        nuint n = (nuint)data.Length, k = 0;
        for (; k + 128 <= n; k += 128)
        {
            a0 += Vector512.LoadUnsafe(ref r, k);
            a1 += Vector512.LoadUnsafe(ref r, k + 16);
            a2 += Vector512.LoadUnsafe(ref r, k + 32);
            a3 += Vector512.LoadUnsafe(ref r, k + 48);
            a4 += Vector512.LoadUnsafe(ref r, k + 64);
            a5 += Vector512.LoadUnsafe(ref r, k + 80);
            a6 += Vector512.LoadUnsafe(ref r, k + 96);
            a7 += Vector512.LoadUnsafe(ref r, k + 112);
        }

        return Vector512.Sum(((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)));
    }

    private static float Read256(float[] data)
    {
        ref float r = ref MemoryMarshal.GetArrayDataReference(data);
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        nuint n = (nuint)data.Length, k = 0;
        for (; k + 64 <= n; k += 64)
        {
            a0 += Vector256.LoadUnsafe(ref r, k);
            a1 += Vector256.LoadUnsafe(ref r, k + 8);
            a2 += Vector256.LoadUnsafe(ref r, k + 16);
            a3 += Vector256.LoadUnsafe(ref r, k + 24);
            a4 += Vector256.LoadUnsafe(ref r, k + 32);
            a5 += Vector256.LoadUnsafe(ref r, k + 40);
            a6 += Vector256.LoadUnsafe(ref r, k + 48);
            a7 += Vector256.LoadUnsafe(ref r, k + 56);
        }

        return Vector256.Sum(((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)));
    }
}
