using BenchmarkDotNet.Attributes;
using LstmKernels.Reference;

namespace LstmKernels.Benchmarks;

/// <summary>The unfused gate projection <c>z = x·Wᵢₕᵀ + h·Wₕₕᵀ + b</c> on PyTorch's row-major weights against its twin.</summary>
[MemoryDiagnoser]
[Config(typeof(BenchConfig))]
public class ProjectionBenchmarks
{
    private LstmParameters parameters = null!; // set in Setup
    private float[] x = [];
    private float[] h = [];
    private float[] gates = [];

    /// <summary>256 KiB of weights (fits L2), 4 MiB (L3), and an odd shape whose every length leaves a vector tail.</summary>
    public static IEnumerable<CellShape> Shapes { get; } = [new(128, 128), new(512, 512), new(127, 131)];

    [ParamsSource(nameof(Shapes), Priority = -1)]
    public CellShape Shape { get; set; }

    /// <summary>1: a matrix-vector product per step; 16: a matrix-matrix product that can reuse each weight.</summary>
    [Params(1, 16)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        parameters = LstmParameters.CreateRandom(Shape.Input, Shape.Hidden, seed: 1);
        x = Data.Uniform(Batch * Shape.Input, 1f, seed: 2);
        h = Data.Uniform(Batch * Shape.Hidden, 1f, seed: 9);
        gates = new float[Batch * 4 * Shape.Hidden];
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("GateProjection")]
    public void GateProjectionReference() =>
        ReferenceKernels.GateProjection(x, h, parameters.WeightIh, parameters.WeightHh, parameters.Bias, gates);

    [Benchmark]
    [BenchmarkCategory("GateProjection")]
    public void GateProjection() =>
        Kernels.GateProjection(x, h, parameters.WeightIh, parameters.WeightHh, parameters.Bias, gates);
}
