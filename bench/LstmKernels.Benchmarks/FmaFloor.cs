using System.Runtime.Intrinsics;
using LstmKernels.Internal;

namespace LstmKernels.Benchmarks;

/// <summary>
/// The compute floor of a batch-1 step: the time for its multiply-adds, 4H·(I + H), as independent vector FMAs on
/// registers (<see cref="FmaPeak.Chain"/>, the widest accelerated vector), with no loads at all. A step cannot be
/// faster than this nor than its <see cref="ReadFloor"/>. A single step and a sequence step do the same FMAs (a
/// sequence only moves the input half into a matrix-matrix pass), so the sequence step's floor is the larger of this
/// and the recurrent read floor.
/// </summary>
internal sealed class FmaFloor
{
    private readonly long iterations;

    public FmaFloor(int input, int hidden)
        : this(4L * hidden * (input + hidden))
    {
    }

    /// <summary>A floor of <paramref name="fmas"/> multiply-adds (the input projection of a sequence step: 4H·I; a batch: B times a step's).</summary>
    public FmaFloor(long fmas)
    {
        Fmas = fmas;
        int lanes = Vector512.IsHardwareAccelerated ? Vector512<float>.Count : Vector256<float>.Count;
        iterations = Math.Max(1, fmas / ((long)lanes * FmaPeak.Chains));
    }

    /// <summary>The multiply-adds this floor stands for.</summary>
    public long Fmas { get; }

    /// <summary>Runs one step's worth of FMAs; returns a sum so that they cannot be elided.</summary>
    public float Run() => Vector512.IsHardwareAccelerated
        ? FmaPeak.Chain<Simd512, Vector512<float>>(iterations)
        : FmaPeak.Chain<Simd256, Vector256<float>>(iterations);
}
