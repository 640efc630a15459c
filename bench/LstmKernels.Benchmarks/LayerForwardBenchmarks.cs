using BenchmarkDotNet.Attributes;

namespace LstmKernels.Benchmarks;

/// <summary>
/// <c>Lstm.Forward</c> through the layouts that used to cost copies around the cell: 2 layers, bidirectional,
/// batch-first (<see cref="BidirectionalBatchFirst"/>), against the same weights run forward and time-major, where the
/// cell writes straight into <c>y</c> (<see cref="ForwardTimeMajor"/>, the copy-free control).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(BenchConfig))]
public class LayerForwardBenchmarks
{
    private const int Steps = 32;
    private const int LayerCount = 2;
    private Lstm bidirectional = null!;
    private Lstm forward = null!;
    private float[] x = [];
    private float[] yBidirectional = [];
    private float[] yForward = [];

    /// <summary>I = H.</summary>
    [Params(32, 128, 512)]
    public int Size { get; set; }

    /// <summary>B, the rows of the batch.</summary>
    [Params(1, 8)]
    public int Batch { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        bidirectional = Build(LstmDirection.Bidirectional, batchFirst: true);
        forward = Build(LstmDirection.Forward, batchFirst: false);
        x = Data.Uniform(Steps * Batch * Size, 1f, seed: 11);
        yBidirectional = new float[Steps * Batch * 2 * Size];
        yForward = new float[Steps * Batch * Size];
    }

    [Benchmark(Baseline = true)]
    public void ForwardTimeMajor() => forward.Forward(Batch, x, default, default, yForward, default, default);

    [Benchmark]
    public void BidirectionalBatchFirst() => bidirectional.Forward(Batch, x, default, default, yBidirectional, default, default);

    private Lstm Build(LstmDirection direction, bool batchFirst)
    {
        int directions = direction == LstmDirection.Bidirectional ? 2 : 1;
        var cells = new LstmParameters[LayerCount * directions];
        for (int k = 0; k < cells.Length; k++)
        {
            int input = k < directions ? Size : directions * Size;
            cells[k] = LstmParameters.CreateRandom(input, Size, seed: 100 + k);
        }

        return Lstm.Create(cells, new LstmOptions { Direction = direction, BatchFirst = batchFirst });
    }
}
