using BenchmarkDotNet.Attributes;
using LstmKernels.Reference;

namespace LstmKernels.Benchmarks;

/// <summary>
/// The seven training kernels, each against its twin: the pointwise forward with cache and its backward, the three
/// gradient accumulations over <see cref="Rows"/> rows (batch × time steps) and the two optimizer steps over a
/// [4H, H] weight. (<see cref="TrainingBenchmarks"/> measures a whole BPTT step built from them.)
/// </summary>
[MemoryDiagnoser]
[Config(typeof(BenchConfig))]
public class TrainingKernelBenchmarks
{
    /// <summary>Rows of the gradient products: batch 1 × 8 steps, as in TrainingBenchmarks.</summary>
    private const int Rows = 8;

    private float[] gates = [];
    private float[] cPrev = [];
    private float[] activations = [];
    private float[] h = [];
    private float[] c = [];
    private float[] dh = [];
    private float[] dc = [];
    private float[] dGates = [];
    private float[] dcPrev = [];
    private float[] input = [];
    private float[] weight = [];
    private float[] weightGradient = [];
    private float[] biasGradient = [];
    private float[] inputGradient = [];
    private float[] parameters = [];
    private float[] gradient = [];
    private float[] velocity = [];
    private float[] m = [];
    private float[] v = [];

    /// <summary>H (and K = H): a power of two, and an odd size that ends every loop in a tail.</summary>
    [Params(256, 263)]
    public int HiddenSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        int hs = HiddenSize, g = Rows * 4 * hs;
        gates = Data.Uniform(g, 4f, seed: 1);
        cPrev = Data.Uniform(Rows * hs, 2f, seed: 2);
        activations = new float[g];
        h = new float[Rows * hs];
        c = new float[Rows * hs];
        ReferenceKernels.LstmPointwiseTraining(hs, gates, cPrev, activations, h, c);
        dh = Data.Uniform(Rows * hs, 1f, seed: 3);
        dc = Data.Uniform(Rows * hs, 1f, seed: 4);
        dGates = Data.Uniform(g, 1f, seed: 5);
        dcPrev = new float[Rows * hs];
        input = Data.Uniform(Rows * hs, 1f, seed: 6);
        weight = Data.Uniform(4 * hs * hs, 0.1f, seed: 7);
        weightGradient = new float[4 * hs * hs];
        biasGradient = new float[4 * hs];
        inputGradient = new float[Rows * hs];

        // A tiny rate keeps the parameters at their scale over the millions of calls of a run.
        parameters = Data.Uniform(4 * hs * hs, 0.1f, seed: 8);
        gradient = Data.Uniform(4 * hs * hs, 1f, seed: 9);
        velocity = new float[4 * hs * hs];
        m = new float[4 * hs * hs];
        v = new float[4 * hs * hs];
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("LstmPointwiseTraining")]
    public void LstmPointwiseTrainingReference() => ReferenceKernels.LstmPointwiseTraining(HiddenSize, gates, cPrev, activations, h, c);

    [Benchmark]
    [BenchmarkCategory("LstmPointwiseTraining")]
    public void LstmPointwiseTraining() => Kernels.LstmPointwiseTraining(HiddenSize, gates, cPrev, activations, h, c);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("LstmPointwiseBackward")]
    public void LstmPointwiseBackwardReference() => ReferenceKernels.LstmPointwiseBackward(HiddenSize, activations, cPrev, c, dh, dc, dGates, dcPrev);

    [Benchmark]
    [BenchmarkCategory("LstmPointwiseBackward")]
    public void LstmPointwiseBackward() => Kernels.LstmPointwiseBackward(HiddenSize, activations, cPrev, c, dh, dc, dGates, dcPrev);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("AccumulateWeightGradient")]
    public void AccumulateWeightGradientReference() => ReferenceKernels.AccumulateWeightGradient(HiddenSize, dGates, input, weightGradient);

    [Benchmark]
    [BenchmarkCategory("AccumulateWeightGradient")]
    public void AccumulateWeightGradient() => Kernels.AccumulateWeightGradient(HiddenSize, dGates, input, weightGradient);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("AccumulateBiasGradient")]
    public void AccumulateBiasGradientReference() => ReferenceKernels.AccumulateBiasGradient(dGates, biasGradient);

    [Benchmark]
    [BenchmarkCategory("AccumulateBiasGradient")]
    public void AccumulateBiasGradient() => Kernels.AccumulateBiasGradient(dGates, biasGradient);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("AccumulateInputGradient")]
    public void AccumulateInputGradientReference() => ReferenceKernels.AccumulateInputGradient(HiddenSize, dGates, weight, inputGradient);

    [Benchmark]
    [BenchmarkCategory("AccumulateInputGradient")]
    public void AccumulateInputGradient() => Kernels.AccumulateInputGradient(HiddenSize, dGates, weight, inputGradient);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("SgdUpdate")]
    public void SgdUpdateReference() => ReferenceKernels.SgdUpdate(1e-9f, 0.9f, gradient, velocity, parameters);

    [Benchmark]
    [BenchmarkCategory("SgdUpdate")]
    public void SgdUpdate() => Kernels.SgdUpdate(1e-9f, 0.9f, gradient, velocity, parameters);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("AdamUpdate")]
    public void AdamUpdateReference() => ReferenceKernels.AdamUpdate(1e-9f, 0.9f, 0.999f, 1e-8f, 10, gradient, m, v, parameters);

    [Benchmark]
    [BenchmarkCategory("AdamUpdate")]
    public void AdamUpdate() => Kernels.AdamUpdate(1e-9f, 0.9f, 0.999f, 1e-8f, 10, gradient, m, v, parameters);
}
