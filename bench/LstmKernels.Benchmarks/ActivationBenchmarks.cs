using System.Numerics.Tensors;
using BenchmarkDotNet.Attributes;
using LstmKernels.Reference;

namespace LstmKernels.Benchmarks;

/// <summary>Sigmoid and tanh against their twins, with <see cref="TensorPrimitives"/> as the library to beat.</summary>
[MemoryDiagnoser]
[Config(typeof(BenchConfig))]
public class ActivationBenchmarks
{
    private float[] x = [];
    private float[] destination = [];

    // A power of two, and 6·512 + 7 so that every path's remainder (the padded 16-wide tail) is measured too.
    [Params(4096, (6 * 512) + 7)]
    public int Length { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        // ±8 covers both branches of tanh and the saturating ends of sigmoid.
        x = Data.Uniform(Length, 8f, seed: 3);
        destination = new float[Length];
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("Sigmoid")]
    public void SigmoidReference() => ReferenceKernels.Sigmoid(x, destination);

    [Benchmark]
    [BenchmarkCategory("Sigmoid")]
    public void Sigmoid() => Kernels.Sigmoid(x, destination);

    [Benchmark]
    [BenchmarkCategory("Sigmoid")]
    public void SigmoidTensorPrimitives() => TensorPrimitives.Sigmoid(x, destination);

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("Tanh")]
    public void TanhReference() => ReferenceKernels.Tanh(x, destination);

    [Benchmark]
    [BenchmarkCategory("Tanh")]
    public void Tanh() => Kernels.Tanh(x, destination);

    [Benchmark]
    [BenchmarkCategory("Tanh")]
    public void TanhTensorPrimitives() => TensorPrimitives.Tanh(x, destination);
}
