using BenchmarkDotNet.Attributes;
using LstmKernels.Reference;

namespace LstmKernels.Benchmarks;

/// <summary>The elementwise stages of a step against their twins: the cell update, the hidden update and the whole pointwise stage.</summary>
[MemoryDiagnoser]
[Config(typeof(BenchConfig))]
public class CellBenchmarks
{
    private float[] forgetGate = [];
    private float[] cPrev = [];
    private float[] inputGate = [];
    private float[] candidate = [];
    private float[] gates = [];
    private float[] c = [];
    private float[] h = [];

    /// <summary>Elements of the updates; hidden units (batch 1) of the pointwise stage. The odd size measures the tails.</summary>
    [Params(4096, (6 * 512) + 7)]
    public int Length { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // Gate values as the activations leave them: i, f, o in (0, 1), g in (−1, 1); pre-activations ±4.
        forgetGate = Gate(Length, seed: 4);
        inputGate = Gate(Length, seed: 5);
        candidate = Data.Uniform(Length, 1f, seed: 6);
        cPrev = Data.Uniform(Length, 2f, seed: 7);
        gates = Data.Uniform(4 * Length, 4f, seed: 8);
        c = new float[Length];
        h = new float[Length];
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("CellUpdate")]
    public void CellUpdateReference() => ReferenceKernels.CellUpdate(forgetGate, cPrev, inputGate, candidate, c);

    [Benchmark]
    [BenchmarkCategory("CellUpdate")]
    public void CellUpdate() => Kernels.CellUpdate(forgetGate, cPrev, inputGate, candidate, c);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("HiddenUpdate")]
    public void HiddenUpdateReference() => ReferenceKernels.HiddenUpdate(forgetGate, cPrev, h);

    [Benchmark]
    [BenchmarkCategory("HiddenUpdate")]
    public void HiddenUpdate() => Kernels.HiddenUpdate(forgetGate, cPrev, h);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("LstmPointwise")]
    public void LstmPointwiseReference() => ReferenceKernels.LstmPointwise(Length, gates, cPrev, h, c);

    [Benchmark]
    [BenchmarkCategory("LstmPointwise")]
    public void LstmPointwise() => Kernels.LstmPointwise(Length, gates, cPrev, h, c);

    private static float[] Gate(int length, int seed)
    {
        float[] values = Data.Uniform(length, 0.5f, seed);
        for (int k = 0; k < values.Length; k++)
        {
            values[k] += 0.5f;
        }

        return values;
    }
}
