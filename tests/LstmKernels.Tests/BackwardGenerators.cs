using FsCheck;
using FsCheck.Fluent;
using LstmKernels.Reference;

namespace LstmKernels.Tests;

/// <summary>FsCheck generators of the training kernels (same scheme as <see cref="Generators"/>: shapes from FsCheck, floats from seeds).</summary>
public static class BackwardGenerators
{
    /// <summary>
    /// Inputs of LstmPointwiseBackward: activations and c produced by the reference forward from pre-activations of
    /// any moderate scale (so they are real gate values, saturated ones included), cPrev up to ±10, upstream
    /// gradients of any moderate scale.
    /// </summary>
    public static Arbitrary<PointwiseBackwardCase> PointwiseBackwardCases() =>
        Arb.From(
            from hidden in Generators.Size
            from batch in Generators.Batch
            from gates in Generators.Floats(batch * 4 * hidden, Gen.Elements(Dist.Unit, Dist.Wide, Dist.Saturating, Dist.Spread))
            from cPrev in Generators.Floats(batch * hidden, Gen.Elements(Dist.Unit, Dist.Wide, Dist.Spread))
            from dh in Generators.Floats(batch * hidden, Gen.Elements(Dist.Unit, Dist.Wide, Dist.Spread))
            from dc in Generators.Floats(batch * hidden, Gen.Elements(Dist.Unit, Dist.Wide, Dist.Spread))
            select new PointwiseBackwardCase(hidden, batch, gates, cPrev, dh, dc));

    /// <summary>Inputs of AccumulateWeightGradient: N rows (batch × time, up to 40), a nonzero initial gradient.</summary>
    public static Arbitrary<WeightGradientCase> WeightGradientCases() =>
        Arb.From(
            from hidden in Gen.OneOf(Gen.Elements(1, 2, 3, 4, 5, 8, 16, 17), Gen.Choose(1, 40))
            from columns in Generators.Size
            from rows in Gen.OneOf(Gen.Elements(0, 1, 2, 3, 4, 5, 9), Gen.Choose(0, 40))
            from dGates in Generators.Floats(rows * 4 * hidden, Gen.Elements(Dist.Unit, Dist.Wide, Dist.Spread))
            from input in Generators.Floats(rows * columns, Gen.Elements(Dist.Unit, Dist.Spread))
            from initial in Generators.Floats(4 * hidden * columns, Gen.Elements(Dist.Unit, Dist.Spread))
            select new WeightGradientCase(hidden, columns, rows, dGates, input, initial));

    /// <summary>Inputs of AccumulateInputGradient: B rows, a [4H, K] weight, a nonzero initial input gradient.</summary>
    public static Arbitrary<InputGradientCase> InputGradientCases() =>
        Arb.From(
            from hidden in Generators.Size
            from columns in Generators.Size
            from batch in Generators.Batch
            from dGates in Generators.Floats(batch * 4 * hidden, Gen.Elements(Dist.Unit, Dist.Wide, Dist.Spread))
            from weight in Generators.Floats(4 * hidden * columns, Gen.Elements(Dist.Unit, Dist.Spread))
            from initial in Generators.Floats(batch * columns, Gen.Elements(Dist.Unit, Dist.Spread))
            select new InputGradientCase(hidden, columns, batch, dGates, weight, initial));

    /// <summary>Inputs of the optimizers: parameters, gradients and moment buffers of moderate scale.</summary>
    public static Arbitrary<OptimizerCase> OptimizerCases() =>
        Arb.From(
            from n in Generators.Length
            from p in Generators.Floats(n, Gen.Elements(Dist.Unit, Dist.Wide, Dist.Spread))
            from g in Generators.Floats(n, Gen.Elements(Dist.Unit, Dist.Wide, Dist.Spread))
            from m in Generators.Floats(n, Gen.Elements(Dist.Unit, Dist.Spread))
            from v in Generators.Floats(n, Gen.Elements(Dist.Probability))
            from step in Gen.Choose(1, 1000)
            from momentum in Gen.Elements(0f, 0.5f, 0.9f, 0.99f)
            from rate in Gen.Elements(1e-3f, 0.01f, 0.1f, 1f)
            select new OptimizerCase(p, g, m, v, step, momentum, rate));

    /// <summary>A small sequence for BPTT: CreateRandom weights, x, h0 in [−1, 1], c0 in [−2, 2], upstream gradients in [−1, 1].</summary>
    public static Arbitrary<BpttCase> BpttCases() =>
        Arb.From(
            from input in Gen.Elements(1, 2, 3, 7, 15, 16, 17, 33)
            from hidden in Gen.Elements(1, 2, 3, 5, 15, 16, 17, 31)
            from batch in Gen.Elements(1, 1, 2, 3, 4, 5)
            from steps in Gen.Elements(0, 1, 2, 3, 5, 8)
            from seed in Generators.Seed
            select new BpttCase(input, hidden, batch, steps, seed));
}

public sealed record PointwiseBackwardCase(int Hidden, int Batch, Data Gates, Data CPrev, Data Dh, Data Dc)
{
    /// <summary>Activations and c of the reference forward on these pre-activations.</summary>
    internal (float[] Activations, float[] C) Forward()
    {
        float[] act = new float[Gates.Values.Length];
        float[] h = new float[CPrev.Values.Length];
        float[] c = new float[CPrev.Values.Length];
        ReferenceKernels.LstmPointwiseTraining(Hidden, Gates.Values, CPrev.Values, act, h, c);
        return (act, c);
    }
}

public sealed record WeightGradientCase(int Hidden, int Columns, int Rows, Data DGates, Data Input, Data Initial);

public sealed record InputGradientCase(int Hidden, int Columns, int Batch, Data DGates, Data Weight, Data Initial);

public sealed record OptimizerCase(Data P, Data G, Data M, Data V, int Step, float Momentum, float Rate);

/// <summary>A sequence of <see cref="Steps"/> steps; every array is derived from <see cref="Seed"/>.</summary>
public sealed record BpttCase(int Input, int Hidden, int Batch, int Steps, int Seed)
{
    internal LstmParameters Parameters() => LstmParameters.CreateRandom(Input, Hidden, Seed);

    internal float[] Inputs() => Generators.Fill(Steps * Batch * Input, Dist.Unit, Seed + 1);

    internal float[] H0() => Generators.Fill(Batch * Hidden, Dist.Unit, Seed + 2);

    internal float[] C0() => Array.ConvertAll(Generators.Fill(Batch * Hidden, Dist.Unit, Seed + 3), v => 2 * v);

    internal float[] DOutputs() => Generators.Fill(Steps * Batch * Hidden, Dist.Unit, Seed + 4);

    internal float[] DhFinal() => Generators.Fill(Batch * Hidden, Dist.Unit, Seed + 5);

    internal float[] DcFinal() => Generators.Fill(Batch * Hidden, Dist.Unit, Seed + 6);
}
