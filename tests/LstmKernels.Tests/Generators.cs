using System.Globalization;
using System.Text;
using FsCheck;
using FsCheck.Fluent;

namespace LstmKernels.Tests;

/// <summary>How the floats of one generated array are distributed. All are finite.</summary>
public enum Dist
{
    /// <summary>U(−1, 1).</summary>
    Unit,

    /// <summary>U(−10, 10).</summary>
    Wide,

    /// <summary>U(−100, 100): deep into sigmoid/tanh saturation and exp's clamp.</summary>
    Saturating,

    /// <summary>Random sign, exponent 2⁻⁴⁰..2⁸, random mantissa; 1 in 32 an exact ±0.</summary>
    Spread,

    /// <summary>U[0, 1]: gate values after a sigmoid.</summary>
    Probability,

    /// <summary>Each element from one of: Unit, Wide, Saturating, Spread, a subnormal, ±0, ±[1e4, 1e30], ±MaxValue.</summary>
    Mixed,

    /// <summary>Any finite float: a random bit pattern with exponent field 0..254 (subnormals included).</summary>
    AnyFinite,
}

/// <summary>
/// The FsCheck generators of the suite. Shapes come from FsCheck directly; the floats of each array come from a
/// seeded <see cref="Random"/> whose seed FsCheck draws, so large arrays are cheap, every case is reproducible from
/// FsCheck's printed Replay seed, and a printed case shows its seeds and shape. FsCheck's default float
/// generator (which yields NaN and ∞ often) is used only by the special-value tests.
/// To replay a failure, copy the pair FsCheck prints after "Falsifiable, after N tests (k shrinks)" into the
/// property's attribute, e.g. <c>[Property(Replay = "(15133294222771585199,6818783082240622097)")]</c>: the same
/// shapes, seeds and data come back. The printed case (shapes, <c>Fill(length, Dist, seed)</c> per array) also
/// rebuilds the data by hand with <see cref="Fill"/>.
/// </summary>
public static class Generators
{
    /// <summary>Lengths around every vector width (4, 8, 16 floats and the 16-float panel).</summary>
    public static readonly int[] EdgeLengths = [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65];

    /// <summary>Feature sizes (I or H) around every vector width; at least 1.</summary>
    public static readonly int[] EdgeSizes = [1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65];

    /// <summary>Batch sizes around the 4-row tile of the fused step and of the projection.</summary>
    public static readonly int[] EdgeBatches = [0, 1, 2, 3, 4, 5, 7, 8, 9];

    private static readonly Dist[] ActivationDists = [Dist.Unit, Dist.Wide, Dist.Saturating, Dist.Spread, Dist.Mixed, Dist.AnyFinite];
    private static readonly Dist[] GateDists = [Dist.Unit, Dist.Wide, Dist.Saturating, Dist.Spread];
    private static readonly Dist[] StateDists = [Dist.Unit, Dist.Wide, Dist.Spread];

    /// <summary>An element count: an edge length, or anything up to 300.</summary>
    public static Gen<int> Length => Gen.OneOf(Gen.Elements(EdgeLengths), Gen.Choose(0, 300));

    /// <summary>A feature size: an edge size, or anything up to 80.</summary>
    public static Gen<int> Size => Gen.OneOf(Gen.Elements(EdgeSizes), Gen.Choose(1, 80));

    /// <summary>A batch size: an edge batch, or anything up to 12.</summary>
    public static Gen<int> Batch => Gen.OneOf(Gen.Elements(EdgeBatches), Gen.Choose(0, 12));

    /// <summary>A seed for the floats of one array.</summary>
    public static Gen<int> Seed => Gen.Choose(0, int.MaxValue - 1);

    /// <summary>A generated array: its floats are <see cref="Fill"/>(length, dist, seed).</summary>
    public static Gen<Data> Floats(int length, Gen<Dist> dist) =>
        from d in dist
        from seed in Seed
        select new Data(d, seed, Fill(length, d, seed));

    /// <summary>The floats of a generated array, deterministic in (length, dist, seed).</summary>
    public static float[] Fill(int length, Dist dist, int seed)
    {
        // A fixed seed per array: the same numbers on every run and every machine (System.Random(int) is stable).
#pragma warning disable CA5394 // Test data, not security.
        var random = new Random(seed);
        var values = new float[length];
        for (int k = 0; k < length; k++)
        {
            values[k] = Next(random, dist);
        }

        return values;
    }

    private static float Next(Random random, Dist dist)
    {
        switch (dist)
        {
            case Dist.Unit: return Uniform(random, 1);
            case Dist.Wide: return Uniform(random, 10);
            case Dist.Saturating: return Uniform(random, 100);
            case Dist.Probability: return (float)random.NextDouble();
            case Dist.Spread:
                if (random.Next(32) == 0)
                {
                    return random.Next(2) == 0 ? 0f : -0f;
                }

                return MathF.CopySign(MathF.ScaleB(1f + (float)random.NextDouble(), random.Next(-40, 8)), random.Next(2) == 0 ? 1f : -1f);
            case Dist.AnyFinite:
                return BitConverter.Int32BitsToSingle((random.Next(2) << 31) | (random.Next(255) << 23) | random.Next(1 << 23));
            default:
                return random.Next(9) switch
                {
                    0 => Next(random, Dist.Unit),
                    1 => Next(random, Dist.Wide),
                    2 => Next(random, Dist.Saturating),
                    3 => Next(random, Dist.Spread),
                    4 => BitConverter.Int32BitsToSingle((random.Next(2) << 31) | random.Next(1, 1 << 23)),
                    5 => random.Next(2) == 0 ? 0f : -0f,
                    6 => MathF.CopySign((float)Math.Pow(10, 4 + (26 * random.NextDouble())), random.Next(2) == 0 ? 1f : -1f),
                    7 => random.Next(2) == 0 ? float.MaxValue : float.MinValue,
                    _ => Next(random, Dist.AnyFinite),
                };
        }
    }

    private static float Uniform(Random random, float bound) => (float)(((2 * random.NextDouble()) - 1) * bound);
#pragma warning restore CA5394

    /// <summary>Inputs of Sigmoid/Tanh.</summary>
    public static Arbitrary<UnaryCase> UnaryCases() =>
        Arb.From(
            from n in Length
            from x in Floats(n, Gen.Elements(ActivationDists))
            select new UnaryCase(x));

    /// <summary>Inputs of CellUpdate: gates in U[0, 1], U(−1, 1) or spread up to ±256, states up to ±256 (no overflow).</summary>
    public static Arbitrary<CellUpdateCase> CellUpdateCases() =>
        Arb.From(
            from n in Length
            from f in Floats(n, Gen.Elements(Dist.Probability, Dist.Unit, Dist.Spread))
            from cPrev in Floats(n, Gen.Elements(StateDists))
            from i in Floats(n, Gen.Elements(Dist.Probability, Dist.Unit, Dist.Spread))
            from g in Floats(n, Gen.Elements(Dist.Unit, Dist.Wide, Dist.Spread))
            select new CellUpdateCase(f, cPrev, i, g));

    /// <summary>Inputs of HiddenUpdate.</summary>
    public static Arbitrary<HiddenUpdateCase> HiddenUpdateCases() =>
        Arb.From(
            from n in Length
            from o in Floats(n, Gen.Elements(Dist.Probability, Dist.Unit, Dist.Wide, Dist.Spread))
            from c in Floats(n, Gen.Elements(ActivationDists))
            select new HiddenUpdateCase(o, c));

    /// <summary>Inputs of LstmPointwise: pre-activations of any moderate scale (saturating included), states up to ±10.</summary>
    public static Arbitrary<PointwiseCase> PointwiseCases() =>
        Arb.From(
            from hidden in Size
            from batch in Batch
            from gates in Floats(batch * 4 * hidden, Gen.Elements(GateDists))
            from cPrev in Floats(batch * hidden, Gen.Elements(StateDists))
            select new PointwiseCase(hidden, batch, gates, cPrev));

    /// <summary>Inputs of GateProjection.</summary>
    public static Arbitrary<ProjectionCase> ProjectionCases() =>
        Arb.From(
            from input in Size
            from hidden in Size
            from batch in Batch
            from x in Floats(batch * input, Gen.Elements(Dist.Unit, Dist.Wide, Dist.Spread))
            from h in Floats(batch * hidden, Gen.Elements(Dist.Unit, Dist.Spread))
            from wIh in Floats(4 * hidden * input, Gen.Elements(Dist.Unit, Dist.Spread))
            from wHh in Floats(4 * hidden * hidden, Gen.Elements(Dist.Unit, Dist.Spread))
            from bias in Floats(4 * hidden, Gen.Elements(Dist.Unit, Dist.Wide))
            select new ProjectionCase(batch, input, hidden, x, h, wIh, wHh, bias));

    /// <summary>
    /// Inputs of one LstmCell step at the scale the cell tolerance assumes: CreateRandom weights, x and hPrev in
    /// [−1, 1], cPrev in [−2, 2].
    /// </summary>
    public static Arbitrary<CellCase> CellCases() =>
        Arb.From(
            from input in Size
            from hidden in Size
            from batch in Batch
            from parameterSeed in Seed
            from x in Floats(batch * input, Gen.Constant(Dist.Unit))
            from h in Floats(batch * hidden, Gen.Constant(Dist.Unit))
            from c in Floats(batch * hidden, Gen.Constant(Dist.Unit))
            select new CellCase(batch, input, hidden, parameterSeed, x, h, c));

    internal static string Format(ReadOnlySpan<float> values)
    {
        var s = new StringBuilder("[");
        for (int k = 0; k < values.Length; k++)
        {
            s.Append(k == 0 ? string.Empty : ", ").Append(values[k].ToString("R", CultureInfo.InvariantCulture));
        }

        return s.Append(']').ToString();
    }
}

/// <summary>A generated array, printed as its distribution and seed (and its values when short).</summary>
public sealed class Data
{
    internal Data(Dist dist, int seed, float[] values)
    {
        Dist = dist;
        Seed = seed;
        Values = values;
    }

    public Dist Dist { get; }

    public int Seed { get; }

    internal float[] Values { get; }

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"Fill({Values.Length}, Dist.{Dist}, {Seed})")
        + (Values.Length <= 24 ? " = " + Generators.Format(Values) : string.Empty);
}

public sealed record UnaryCase(Data X);

public sealed record CellUpdateCase(Data ForgetGate, Data CPrev, Data InputGate, Data Candidate);

public sealed record HiddenUpdateCase(Data OutputGate, Data C);

public sealed record PointwiseCase(int Hidden, int Batch, Data Gates, Data CPrev);

public sealed record ProjectionCase(int Batch, int Input, int Hidden, Data X, Data H, Data WeightIh, Data WeightHh, Data Bias);

/// <summary>One LstmCell step; the cell state is 2·<see cref="C"/> (|cPrev| ≤ 2), the weights CreateRandom(Input, Hidden, ParameterSeed).</summary>
public sealed record CellCase(int Batch, int Input, int Hidden, int ParameterSeed, Data X, Data H, Data C)
{
    internal float[] CPrev()
    {
        float[] c = (float[])C.Values.Clone();
        for (int k = 0; k < c.Length; k++)
        {
            c[k] *= 2;
        }

        return c;
    }
}
