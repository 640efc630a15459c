using BenchmarkDotNet.Attributes;
using LstmKernels.Reference;
using LstmKernels.Training;

namespace LstmKernels.Benchmarks;

/// <summary>
/// One training step over a sequence of <see cref="Steps"/> steps at batch 1: forward with cache, BPTT, an update
/// (SGD, as in the seed). The reference (baseline) is ReferenceLstmCell.BackwardSequence then ApplySgd, in double;
/// the fast path is LstmBptt.Forward + Backward (gradients into an LstmParameters buffer) + SgdOptimizer, and the
/// same with Adam.
/// </summary>
/// <remarks>T is 8 so that the reference at 1024×1024 (≈1 s per call) stays within the short job.</remarks>
[MemoryDiagnoser]
[Config(typeof(BenchConfig))]
public class TrainingBenchmarks
{
    private const int Steps = 8;

    private LstmParameters parameters = null!;
    private LstmParameters gradient = null!;
    private LstmBptt bptt = null!;
    private SgdOptimizer sgd = null!;
    private AdamOptimizer adam = null!;
    private float[] inputs = [];
    private float[] h0 = [];
    private float[] c0 = [];
    private float[] dOutputs = [];
    private ReferenceLstmCell reference = null!;
    private ReferenceLstmGradients refGradient = null!;
    private double[] refInputs = [];
    private double[] refH0 = [];
    private double[] refDOutputs = [];
    private double[] refDh0 = [];
    private double[] refDc0 = [];

    public static IEnumerable<CellShape> Shapes => CellShape.Standard;

    [ParamsSource(nameof(Shapes), Priority = -1)]
    public CellShape Shape { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        int i = Shape.Input, h = Shape.Hidden;
        parameters = LstmParameters.CreateRandom(i, h, 1);
        gradient = new LstmParameters(i, h);
        bptt = new LstmBptt(parameters, 1, Steps);

        // A tiny rate: the weights stay at their scale over the thousands of calls of a run.
        sgd = new SgdOptimizer(parameters, 1e-9f);
        adam = new AdamOptimizer(parameters, 1e-9f);
        inputs = Data.Uniform(Steps * i, 1f, 2);
        h0 = new float[h];
        c0 = new float[h];
        dOutputs = Data.Uniform(Steps * h, 1f, 3);
        reference = new ReferenceLstmCell(parameters);
        refGradient = new ReferenceLstmGradients(i, h);
        refInputs = Array.ConvertAll(inputs, v => (double)v);
        refH0 = new double[h];
        refDOutputs = Array.ConvertAll(dOutputs, v => (double)v);
        refDh0 = new double[h];
        refDc0 = new double[h];
    }

    [Benchmark(Baseline = true)]
    public void Reference()
    {
        refGradient.Clear();
        reference.BackwardSequence(refInputs, refH0, refH0, refDOutputs, default, default, refGradient, default, refDh0, refDc0);
        reference.ApplySgd(refGradient, 1e-9);
    }

    [Benchmark]
    public void FastSgd()
    {
        Gradients.Clear(gradient);
        bptt.Forward(inputs, h0, c0, default);
        bptt.Backward(dOutputs, default, default, gradient, default, default, default);
        sgd.Update(gradient);
    }

    [Benchmark]
    public void FastAdam()
    {
        Gradients.Clear(gradient);
        bptt.Forward(inputs, h0, c0, default);
        bptt.Backward(dOutputs, default, default, gradient, default, default, default);
        Gradients.ClipByGlobalNorm(gradient, default, 1f);
        adam.Update(gradient);
    }
}
