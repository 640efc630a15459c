using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using LstmKernels.Internal;

namespace LstmKernels.Benchmarks;

/// <summary>
/// The memory floor of a step: the time to read a buffer of the same size once with the fastest of several plain read
/// loops at that size, so a kernel that streams its weights once cannot be faster than this from the same cache level.
/// </summary>
/// <remarks>
/// The buffer is 64-byte aligned like the packed weights (a misaligned 64-byte load touches two cache lines, which made
/// the old single-loop floor beat by the fused step on the Intel host). The loops (<see cref="Loops"/>) differ in how many
/// independent vector accumulators they keep (4, 8, 16), in software prefetch (1 KiB and 4 KiB ahead) and in reading two
/// streams (the two halves) at once; which is fastest depends on the cache level the buffer sits in and on the core.
/// The constructor times each a few times and keeps the fastest (<see cref="Loop"/>); <see cref="Run"/> runs it.
/// </remarks>
internal sealed unsafe class ReadFloor : IDisposable
{
    /// <summary>The read loops tried, by name.</summary>
    public static readonly string[] Loops = ["8 acc", "4 acc", "16 acc", "8 acc + prefetch 1 KiB", "8 acc + prefetch 4 KiB", "2 streams × 8 acc"];

    private const int CalibrationRounds = 5;
    private const double CalibrationSeconds = 0.004;

    private readonly float* data;
    private readonly int length;
    private readonly int loop;

    public ReadFloor(long bytes)
    {
        // Whole 2 × 16-vector blocks of the widest vector, so every loop reads exactly the same bytes.
        const int Block = 2 * 16 * 16;
        length = (int)Math.Max(Block, bytes / sizeof(float) / Block * Block);
        data = (float*)NativeMemory.AlignedAlloc((nuint)length * sizeof(float), 64);
        float[] values = Data.Uniform(length, 1f, seed: 9);
        values.CopyTo(new Span<float>(data, length));
        loop = Fastest();
    }

    public long Bytes => (long)length * sizeof(float);

    /// <summary>The index in <see cref="Loops"/> of the loop that was fastest at this size.</summary>
    public int Loop => loop;

    /// <summary>Reads the whole buffer once with the fastest loop; returns a sum so the reads cannot be elided.</summary>
    public float Run() => Run(loop);

    /// <summary>Reads the whole buffer once with loop <paramref name="index"/> of <see cref="Loops"/>.</summary>
    public float Run(int index) => Vector512.IsHardwareAccelerated ? Run<Simd512, Vector512<float>>(index) : Run<Simd256, Vector256<float>>(index);

    public void Dispose() => NativeMemory.AlignedFree(data);

    private float Run<TOps, TVec>(int index)
        where TOps : struct, ISimd<TVec>
        where TVec : struct
    {
        ref float r = ref Unsafe.AsRef<float>(data);
        return index switch
        {
            0 => Read8<TOps, TVec>(ref r, length, 0),
            1 => Read4<TOps, TVec>(ref r, length),
            2 => Read16<TOps, TVec>(ref r, length),
            3 => Read8<TOps, TVec>(ref r, length, 1024 / sizeof(float)),
            4 => Read8<TOps, TVec>(ref r, length, 4096 / sizeof(float)),
            _ => ReadTwoStreams<TOps, TVec>(ref r, length),
        };
    }

    /// <summary>Times every loop <see cref="CalibrationRounds"/> times, interleaved, and returns the fastest.</summary>
    private int Fastest()
    {
        int loops = Loops.Length;
        Span<double> best = stackalloc double[loops];
        best.Fill(double.MaxValue);
        float sink = 0;
        long start = Stopwatch.GetTimestamp();
        sink += Run(0);
        double once = Math.Max(Stopwatch.GetElapsedTime(start).TotalSeconds, 1e-8);
        int calls = (int)Math.Clamp(CalibrationSeconds / once, 1, 100_000);
        for (int round = 0; round <= CalibrationRounds; round++)
        {
            for (int k = 0; k < loops; k++)
            {
                long t0 = Stopwatch.GetTimestamp();
                for (int n = 0; n < calls; n++)
                {
                    sink += Run(k);
                }

                // Round 0 warms every loop up (tier-1 code, the buffer in the cache) and is not counted.
                if (round > 0)
                {
                    best[k] = Math.Min(best[k], Stopwatch.GetElapsedTime(t0).TotalSeconds);
                }
            }
        }

        int fastest = 0;
        for (int k = 1; k < loops; k++)
        {
            fastest = best[k] < best[fastest] ? k : fastest;
        }

        return float.IsNaN(sink) ? 0 : fastest;
    }

    private static float Read8<TOps, TVec>(ref float r, int length, int prefetch)
        where TOps : struct, ISimd<TVec>
        where TVec : struct
    {
        int c = TOps.Count;
        TVec a0 = TOps.Create(0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        for (int k = 0; k + (8 * c) <= length; k += 8 * c)
        {
            ref float at = ref Unsafe.Add(ref r, k);
            if (prefetch > 0 && Sse.IsSupported && k + prefetch < length)
            {
                // One prefetch per 64-byte line read ahead (8 vectors of 16 floats are 8 lines on Vector512).
                ref float ahead = ref Unsafe.Add(ref at, prefetch);
                for (int line = 0; line < 8 * c; line += 16)
                {
                    Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref ahead, line)));
                }
            }

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

    private static float Read4<TOps, TVec>(ref float r, int length)
        where TOps : struct, ISimd<TVec>
        where TVec : struct
    {
        int c = TOps.Count;
        TVec a0 = TOps.Create(0f), a1 = a0, a2 = a0, a3 = a0;
        for (int k = 0; k + (8 * c) <= length; k += 8 * c)
        {
            ref float at = ref Unsafe.Add(ref r, k);
            a0 = TOps.Add(a0, TOps.Add(TOps.Load(ref at), TOps.Load(ref Unsafe.Add(ref at, 4 * c))));
            a1 = TOps.Add(a1, TOps.Add(TOps.Load(ref Unsafe.Add(ref at, c)), TOps.Load(ref Unsafe.Add(ref at, 5 * c))));
            a2 = TOps.Add(a2, TOps.Add(TOps.Load(ref Unsafe.Add(ref at, 2 * c)), TOps.Load(ref Unsafe.Add(ref at, 6 * c))));
            a3 = TOps.Add(a3, TOps.Add(TOps.Load(ref Unsafe.Add(ref at, 3 * c)), TOps.Load(ref Unsafe.Add(ref at, 7 * c))));
        }

        return TOps.Sum(TOps.Add(TOps.Add(a0, a1), TOps.Add(a2, a3)));
    }

    private static float Read16<TOps, TVec>(ref float r, int length)
        where TOps : struct, ISimd<TVec>
        where TVec : struct
    {
        int c = TOps.Count;
        TVec a0 = TOps.Create(0f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
        TVec b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0, b5 = a0, b6 = a0, b7 = a0;
        for (int k = 0; k + (16 * c) <= length; k += 16 * c)
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
            b0 = TOps.Add(b0, TOps.Load(ref Unsafe.Add(ref at, 8 * c)));
            b1 = TOps.Add(b1, TOps.Load(ref Unsafe.Add(ref at, 9 * c)));
            b2 = TOps.Add(b2, TOps.Load(ref Unsafe.Add(ref at, 10 * c)));
            b3 = TOps.Add(b3, TOps.Load(ref Unsafe.Add(ref at, 11 * c)));
            b4 = TOps.Add(b4, TOps.Load(ref Unsafe.Add(ref at, 12 * c)));
            b5 = TOps.Add(b5, TOps.Load(ref Unsafe.Add(ref at, 13 * c)));
            b6 = TOps.Add(b6, TOps.Load(ref Unsafe.Add(ref at, 14 * c)));
            b7 = TOps.Add(b7, TOps.Load(ref Unsafe.Add(ref at, 15 * c)));
        }

        TVec a = TOps.Add(TOps.Add(TOps.Add(a0, a1), TOps.Add(a2, a3)), TOps.Add(TOps.Add(a4, a5), TOps.Add(a6, a7)));
        TVec b = TOps.Add(TOps.Add(TOps.Add(b0, b1), TOps.Add(b2, b3)), TOps.Add(TOps.Add(b4, b5), TOps.Add(b6, b7)));
        return TOps.Sum(TOps.Add(a, b));
    }

    /// <summary>The two halves at once, four accumulators each: two sequential streams for the hardware prefetchers.</summary>
    private static float ReadTwoStreams<TOps, TVec>(ref float r, int length)
        where TOps : struct, ISimd<TVec>
        where TVec : struct
    {
        int c = TOps.Count;
        int half = length / 2;
        ref float second = ref Unsafe.Add(ref r, half);
        TVec a0 = TOps.Create(0f), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (int k = 0; k + (4 * c) <= half; k += 4 * c)
        {
            ref float at = ref Unsafe.Add(ref r, k);
            ref float bt = ref Unsafe.Add(ref second, k);
            a0 = TOps.Add(a0, TOps.Load(ref at));
            b0 = TOps.Add(b0, TOps.Load(ref bt));
            a1 = TOps.Add(a1, TOps.Load(ref Unsafe.Add(ref at, c)));
            b1 = TOps.Add(b1, TOps.Load(ref Unsafe.Add(ref bt, c)));
            a2 = TOps.Add(a2, TOps.Load(ref Unsafe.Add(ref at, 2 * c)));
            b2 = TOps.Add(b2, TOps.Load(ref Unsafe.Add(ref bt, 2 * c)));
            a3 = TOps.Add(a3, TOps.Load(ref Unsafe.Add(ref at, 3 * c)));
            b3 = TOps.Add(b3, TOps.Load(ref Unsafe.Add(ref bt, 3 * c)));
        }

        TVec a = TOps.Add(TOps.Add(a0, a1), TOps.Add(a2, a3));
        TVec b = TOps.Add(TOps.Add(b0, b1), TOps.Add(b2, b3));
        return TOps.Sum(TOps.Add(a, b));
    }
}
