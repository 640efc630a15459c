using FsCheck;
using FsCheck.Fluent;

namespace LstmKernels.Tests;

/// <summary>
/// Inputs of Kernels.Linear: B from <see cref="Generators.Batch"/> (0 included), K 0 (1 in 10) or a
/// <see cref="Generators.Size"/>, N a <see cref="Generators.Size"/> (not only multiples of 4), and 1 in 4 cases
/// without bias (an empty span). Replay and printing as in <see cref="Generators"/>.
/// </summary>
public static class LinearGenerators
{
    public static Arbitrary<LinearCase> LinearCases() =>
        Arb.From(
            from batch in Generators.Batch
            from zeroInner in Gen.Choose(0, 9)
            from inner in zeroInner == 0 ? Gen.Constant(0) : Generators.Size
            from rows in Generators.Size
            from noBias in Gen.Choose(0, 3)
            from x in Generators.Floats(batch * inner, Gen.Elements(Dist.Unit, Dist.Wide, Dist.Spread))
            from weight in Generators.Floats(rows * inner, Gen.Elements(Dist.Unit, Dist.Spread))
            from bias in Generators.Floats(noBias == 0 ? 0 : rows, Gen.Elements(Dist.Unit, Dist.Wide))
            select new LinearCase(batch, inner, rows, x, weight, bias));

    /// <summary>K around four vectors of every width (4·4, 4·8, 4·16 floats) and twice that, where the accumulators split.</summary>
    public static readonly int[] EdgeInners = [1, 2, 3, 4, 5, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129];

    /// <summary>
    /// Inputs of the row-placement property: B in 1..9, K an <see cref="EdgeInners"/> size or anything up to 200, N a
    /// <see cref="Generators.Size"/>, 1 in 4 without bias; x now and then <see cref="Dist.Mixed"/> (huge values, so the
    /// overflow guard runs too). <see cref="RowPlacementCase.Seed"/> draws the row permutation and the filler rows.
    /// </summary>
    public static Arbitrary<RowPlacementCase> RowPlacementCases() =>
        Arb.From(
            from batch in Gen.Choose(1, 9)
            from inner in Gen.OneOf(Gen.Elements(EdgeInners), Gen.Choose(1, 200))
            from rows in Generators.Size
            from noBias in Gen.Choose(0, 3)
            from x in Generators.Floats(batch * inner, Gen.Elements(Dist.Unit, Dist.Wide, Dist.Spread, Dist.Unit, Dist.Mixed))
            from weight in Generators.Floats(rows * inner, Gen.Elements(Dist.Unit, Dist.Spread))
            from bias in Generators.Floats(noBias == 0 ? 0 : rows, Gen.Elements(Dist.Unit, Dist.Wide))
            from seed in Generators.Seed
            select new RowPlacementCase(new LinearCase(batch, inner, rows, x, weight, bias), seed));
}

/// <summary>One Linear call: x <c>[Batch, Inner]</c>, weight <c>[Rows, Inner]</c>, bias <c>[Rows]</c> or empty.</summary>
public sealed record LinearCase(int Batch, int Inner, int Rows, Data X, Data Weight, Data Bias);

/// <summary>A Linear call and the seed of the permutation and filler rows that move its rows around the batch.</summary>
public sealed record RowPlacementCase(LinearCase Case, int Seed);
