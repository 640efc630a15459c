using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Text;
using LstmKernels.Internal;

namespace LstmKernels.Benchmarks;

/// <summary>
/// The machine's FMA throughput on one core for each accelerated vector width, so that the GFLOP/s of a step has
/// a ceiling to be read against (on cores that split 512-bit operations in two, both widths give the same peak).
/// </summary>
internal static class FmaPeak
{
    /// <summary>Independent FMA chains in <see cref="Chain"/>: more than FMA latency × FMA ports on current x64 cores, so throughput-bound.</summary>
    public const int Chains = 10;

    private const long Iterations = 100_000;

    private static float sink;

    /// <summary>The peak of the widest accelerated vector width, in GFLOP/s, and the report line of every width.</summary>
    public static (double Gflops, string Text) Measure(double warmupSeconds, double budgetSeconds)
    {
        var text = new StringBuilder("FMA peak, one core:");
        string separator = " ";
        double widest = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            widest = Measure<Simd512, Vector512<float>>(warmupSeconds, budgetSeconds);
            text.Append(CultureInfo.InvariantCulture, $"{separator}Vector512 {widest:0} GFLOP/s");
            separator = ", ";
        }

        if (Vector256.IsHardwareAccelerated)
        {
            double gflops = Measure<Simd256, Vector256<float>>(warmupSeconds, budgetSeconds);
            widest = widest > 0 ? widest : gflops;
            text.Append(CultureInfo.InvariantCulture, $"{separator}Vector256 {gflops:0} GFLOP/s");
        }

        return (widest, text.Append('.').ToString());
    }

    private static double Measure<TOps, TVec>(double warmupSeconds, double budgetSeconds)
        where TOps : struct, ISimd<TVec>
        where TVec : struct
    {
        double seconds = StepTimer.Median(n => sink = Chain<TOps, TVec>(n), Iterations, warmupSeconds, budgetSeconds);
        return Iterations * Chains * 2.0 * TOps.Count / seconds / 1e9;
    }

    /// <summary><paramref name="iterations"/> × <see cref="Chains"/> independent vector FMAs on registers only.</summary>
    // No calls inside or after the loop: values live across a call are spilled at every definition by the JIT,
    // which would measure stores instead of FMAs.
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static float Chain<TOps, TVec>(long iterations)
        where TOps : struct, ISimd<TVec>
        where TVec : struct
    {
        TVec m = TOps.Create(0.999f);
        TVec b = TOps.Create(1e-3f);
        TVec a0 = TOps.Create(1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0;
        for (long n = 0; n < iterations; n++)
        {
            a0 = TOps.MultiplyAdd(a0, m, b);
            a1 = TOps.MultiplyAdd(a1, m, b);
            a2 = TOps.MultiplyAdd(a2, m, b);
            a3 = TOps.MultiplyAdd(a3, m, b);
            a4 = TOps.MultiplyAdd(a4, m, b);
            a5 = TOps.MultiplyAdd(a5, m, b);
            a6 = TOps.MultiplyAdd(a6, m, b);
            a7 = TOps.MultiplyAdd(a7, m, b);
            a8 = TOps.MultiplyAdd(a8, m, b);
            a9 = TOps.MultiplyAdd(a9, m, b);
        }

        TVec sum = TOps.Add(TOps.Add(TOps.Add(a0, a1), TOps.Add(a2, a3)), TOps.Add(TOps.Add(a4, a5), TOps.Add(a6, a7)));
        return TOps.Sum(TOps.Add(sum, TOps.Add(a8, a9)));
    }
}
