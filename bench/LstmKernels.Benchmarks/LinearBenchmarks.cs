using BenchmarkDotNet.Attributes;
using LstmKernels.Reference;

namespace LstmKernels.Benchmarks;

/// <summary>The dense layer <c>y = x·Wᵀ + b</c> (PyTorch's <c>F.linear</c>) against its twin, with and without bias.</summary>
[MemoryDiagnoser]
[Config(typeof(BenchConfig))]
public class LinearBenchmarks
{
    private float[] x = [];
    private float[] weight = [];
    private float[] bias = [];
    private float[] destination = [];

    /// <summary>K = N: a power of two, and an odd size whose dot products end in a tail on every path.</summary>
    [Params(256, 263)]
    public int Size { get; set; }

    /// <summary>1: a matrix-vector product; 3: rows that do not fill a 4-row tile; 16: four 4-row tiles reusing each loaded weight vector.</summary>
    [Params(1, 3, 16)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        x = Data.Uniform(Batch * Size, 1f, seed: 2);
        weight = Data.Uniform(Size * Size, 0.1f, seed: 3);
        bias = Data.Uniform(Size, 1f, seed: 4);
        destination = new float[Batch * Size];
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("Linear")]
    public void LinearReference() => ReferenceKernels.Linear(x, weight, bias, destination);

    [Benchmark]
    [BenchmarkCategory("Linear")]
    public void Linear() => Kernels.Linear(x, weight, bias, destination);

    [Benchmark]
    [BenchmarkCategory("Linear")]
    public void LinearWithoutBias() => Kernels.Linear(x, weight, default, destination);
}
