using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using LstmKernels.Internal;

namespace LstmKernels.Benchmarks;

/// <summary>
/// The memory floor of a step: the time to read a buffer of the same size once with the best plain read loop
/// (eight independent vector accumulators, <see cref="Vector512{T}"/> where accelerated, else <see cref="Vector256{T}"/>),
/// so a kernel that streams its weights once cannot be faster than this from the same cache level.
/// </summary>
internal sealed class ReadFloor(long bytes)
{
    private readonly float[] buffer = Data.Uniform((int)(bytes / sizeof(float)), 1f, seed: 9);

    public long Bytes => (long)buffer.Length * sizeof(float);

    /// <summary>Reads the whole buffer once; returns a sum so the reads cannot be elided.</summary>
    public float Run() => Vector512.IsHardwareAccelerated ? Read<Simd512, Vector512<float>>(buffer) : Read<Simd256, Vector256<float>>(buffer);

    private static float Read<TOps, TVec>(float[] data)
        where TOps : struct, ISimd<TVec>
        where TVec : struct
    {
        ref float r = ref MemoryMarshal.GetArrayDataReference(data);
        int c = TOps.Count;
        TVec a0 = TOps.Create(0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int k = 0; k + (8 * c) <= data.Length; k += 8 * c)
        {
            ref float at = ref Unsafe.Add(ref r, k);
            a0 = TOps.Add(a0, TOps.Load(ref at));
            a1 = TOps.Add(a1, TOps.Load(ref Unsafe.Add(ref at, c)));
            a2 = TOps.Add(a2, TOps.Load(ref Unsafe.Add(ref at, 2 * c)));
            a3 = TOps.Add(a3, TOps.Load(ref Unsafe.Add(ref at, 3 * c)));
            a4 = TOps.Add(a4, TOps.Load(ref Unsafe.Add(ref at, 4 * c)));
            a5 = TOps.Add(a5, TOps.Load(ref Unsafe.Add(ref at, 5 * c)));
            a6 = TOps.Add(a6, TOps.Load(ref Unsafe.Add(ref at, 6 * c)));
            a7 = TOps.Add(a7, TOps.Load(ref Unsafe.Add(ref at, 7 * c)));
        }

        return TOps.Sum(TOps.Add(TOps.Add(TOps.Add(a0, a1), TOps.Add(a2, a3)), TOps.Add(TOps.Add(a4, a5), TOps.Add(a6, a7))));
    }
}
