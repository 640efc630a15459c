using BenchmarkDotNet.Attributes;
using LstmKernels.Training;

namespace LstmKernels.Benchmarks;

/// <summary>
/// What training costs against inference on the same trainer: <see cref="LstmBptt.Forward"/> alone (the baseline, so
/// the Ratio column reads "× the forward") against forward + backward (gradients accumulated, no update), over
/// <see cref="Steps"/> steps at batch 1 and 16. Issue 16 asks for forward + backward at most 3.5× the forward at batch 16
/// for H ≥ 256.
/// </summary>
[MemoryDiagnoser]
[Config(typeof(BenchConfig))]
public class TrainingStepBenchmarks
{
    private const int Steps = 16;

    private LstmParameters gradient = null!;
    private LstmBptt bptt = null!;
    private float[] x = [];
    private float[] dY = [];
    private float[] h0 = [];
    private float[] c0 = [];

    /// <summary>I = H.</summary>
    [Params(128, 256, 512)]
    public int Size { get; set; }

    /// <summary>B, the rows per step.</summary>
    [Params(1, 16)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var parameters = LstmParameters.CreateRandom(Size, Size, 1);
        gradient = new LstmParameters(Size, Size);
        bptt = new LstmBptt(parameters, Batch, Steps);
        x = Data.Uniform(Steps * Batch * Size, 1f, 2);
        dY = Data.Uniform(Steps * Batch * Size, 1f, 3);
        h0 = new float[Batch * Size];
        c0 = new float[Batch * Size];
    }

    [Benchmark(Baseline = true)]
    public void Forward() => bptt.Forward(x, h0, c0, default);

    [Benchmark]
    public void ForwardBackward()
    {
        bptt.Forward(x, h0, c0, default);
        bptt.Backward(dY, default, default, gradient, default, default, default);
    }
}
