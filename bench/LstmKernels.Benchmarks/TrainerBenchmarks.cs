using BenchmarkDotNet.Attributes;
using LstmKernels.Training;

namespace LstmKernels.Benchmarks;

/// <summary>
/// LstmTrainer over the shape issue 16 adds: 2 layers, bidirectional, batch-first, PyTorch's two biases, with all rows
/// full or with per-row lengths (T, 3T/4, T/2, … cycling). <see cref="Forward"/> alone is the baseline, so the Ratio
/// column reads "× the forward" for forward + backward (gradients accumulated, dX written, no update); over
/// <see cref="Steps"/> steps at batch 1 and 16. Issue 16's target: at most 3.5× at batch 16 for H ≥ 256; 0 B.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(BenchConfig))]
public class TrainerBenchmarks
{
    private const int Steps = 16;
    private const int Layers = 2;

    private LstmTrainer trainer = null!;
    private LstmStackParameters gradient = null!;
    private float[] x = [];
    private float[] dY = [];
    private float[] dX = [];
    private int[] lengths = [];

    /// <summary>I = H.</summary>
    [Params(128, 256, 512)]
    public int Size { get; set; }

    /// <summary>B, the rows per step.</summary>
    [Params(1, 16)]
    public int Batch { get; set; }

    /// <summary>Whether the rows have different lengths (the row-by-row pointwise path).</summary>
    [Params(false, true)]
    public bool Ragged { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var parameters = LstmStackParameters.CreateRandom(Size, Size, Layers, 2, 0, LstmBiasMode.Separate, 1);
        gradient = parameters.CreateGradient();
        trainer = new LstmTrainer(parameters, new LstmOptions { Direction = LstmDirection.Bidirectional, BatchFirst = true }, Batch, Steps);
        x = Data.Uniform(Batch * Steps * Size, 1f, 2);
        dY = Data.Uniform(Batch * Steps * 2 * Size, 1f, 3);
        dX = new float[x.Length];
        lengths = Ragged ? [.. Enumerable.Range(0, Batch).Select(b => Steps - (b % 4 * Steps / 4))] : [];
    }

    [Benchmark(Baseline = true)]
    public void Forward() => trainer.Forward(x, default, default, default, default, default, lengths);

    [Benchmark]
    public void ForwardBackward()
    {
        trainer.Forward(x, default, default, default, default, default, lengths);
        trainer.Backward(dY, default, default, gradient, dX, default, default);
    }
}
