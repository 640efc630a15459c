using BenchmarkDotNet.Attributes;

namespace LstmKernels.Benchmarks;

/// <summary>
/// One fused step (batch 1, in place) with normal inputs (baseline) against the same step with subnormal inputs:
/// x, hPrev and cPrev all subnormal (so every product w·x and w·h, and f·cPrev, is subnormal or underflows), and with
/// only x subnormal. x86 cores may take a microcode assist on subnormal operands or results; .NET does not set
/// flush-to-zero, so the Ratio column is the slowdown a service sees. docs/numerics.md states the measured factor.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(BenchConfig))]
public class DenormalBenchmarks
{
    private LstmCell cell = null!;
    private float[] normalX = null!, normalH = null!, normalC = null!;
    private float[] tinyX = null!, tinyH = null!, tinyC = null!;
    private float[] h = null!, c = null!;

    [Params(128, 512)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        cell = new LstmCell(LstmParameters.CreateRandom(Size, Size, seed: 1));
        var random = new Random(2);
        normalX = Fill(random, 1f);
        normalH = Fill(random, 1f);
        normalC = Fill(random, 1f);

        // Subnormal floats (|v| < 2⁻¹²⁶ ≈ 1.18e-38), random sign and mantissa.
        tinyX = Fill(random, 1e-39f);
        tinyH = Fill(random, 1e-39f);
        tinyC = Fill(random, 1e-39f);
        h = new float[Size];
        c = new float[Size];
    }

    [Benchmark(Baseline = true)]
    public void NormalInputs()
    {
        // Restore the state each call: an in-place step would otherwise drift it out of the subnormal range.
        normalH.CopyTo(h, 0);
        normalC.CopyTo(c, 0);
        cell.Forward(normalX, h, c, h, c);
    }

    [Benchmark]
    public void SubnormalInputsAndState()
    {
        tinyH.CopyTo(h, 0);
        tinyC.CopyTo(c, 0);
        cell.Forward(tinyX, h, c, h, c);
    }

    [Benchmark]
    public void SubnormalInputsOnly()
    {
        normalH.CopyTo(h, 0);
        normalC.CopyTo(c, 0);
        cell.Forward(tinyX, h, c, h, c);
    }

    private float[] Fill(Random random, float scale)
    {
        float[] values = new float[Size];
        for (int k = 0; k < values.Length; k++)
        {
#pragma warning disable CA5394 // Benchmark data.
            values[k] = (float)(((2 * random.NextDouble()) - 1) * scale);
#pragma warning restore CA5394
        }

        return values;
    }
}
