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
}

/// <summary>One Linear call: x <c>[Batch, Inner]</c>, weight <c>[Rows, Inner]</c>, bias <c>[Rows]</c> or empty.</summary>
public sealed record LinearCase(int Batch, int Inner, int Rows, Data X, Data Weight, Data Bias);
