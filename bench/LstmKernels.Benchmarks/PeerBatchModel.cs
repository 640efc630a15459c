namespace LstmKernels.Benchmarks;

/// <summary>
/// One size at batch B (4 or 16) with its peer: a <see cref="PeerModel.SequenceSteps"/>-step sequence of B rows through
/// <see cref="LstmCell.ForwardSequence"/> and through ONNX Runtime (one thread each), and the parts of its floor: Wₕₕ read
/// once (<see cref="Read"/>), the B·4H·H recurrent multiply-adds (<see cref="RecurrentFma"/>) and the B·4H·I projection
/// multiply-adds (<see cref="ProjectionFma"/>) at the FMA peak. A step can overlap its Wₕₕ stream with its recurrent
/// FMAs but not go below either; the projection is a pass of its own: floor = max(read, recurrent FMAs) + projection FMAs.
/// </summary>
internal sealed class PeerBatchModel : IDisposable
{
    private ReadFloor? read;

    public PeerBatchModel(CellShape shape, int batch)
    {
        Shape = shape;
        Pointwise = new PointwiseCost(batch, shape.Hidden);
        Batch = batch;
        LstmParameters parameters = LstmParameters.CreateRandom(shape.Input, shape.Hidden, seed: 1);
        Cell = new LstmCell(parameters);
        OrtSequence = new OrtPeer(parameters, Cell, batch, steps: PeerModel.SequenceSteps);
        Fma = new FmaFloor(batch * 4L * shape.Hidden * (shape.Input + shape.Hidden));
        RecurrentFma = new FmaFloor(batch * 4L * shape.Hidden * shape.Hidden);
        ProjectionFma = new FmaFloor(batch * 4L * shape.Hidden * shape.Input);
        Xs = Data.Uniform(PeerModel.SequenceSteps * batch * shape.Input, 1f, seed: 3);
        H = new float[batch * shape.Hidden];
        C = new float[batch * shape.Hidden];
    }

    public CellShape Shape { get; }

    /// <summary>The pointwise stage of one step on its own (no floor counts it).</summary>
    public PointwiseCost Pointwise { get; }

    public int Batch { get; }

    public LstmCell Cell { get; }

    public OrtPeer OrtSequence { get; }

    /// <summary>The FMAs of one batch step on registers only: the compute floor.</summary>
    public FmaFloor Fma { get; }

    /// <summary>The recurrent half's FMAs of one batch step, B·4H·H.</summary>
    public FmaFloor RecurrentFma { get; }

    /// <summary>The input projection's FMAs of one batch step, B·4H·I.</summary>
    public FmaFloor ProjectionFma { get; }

    /// <summary>Wₕₕ read once by the fastest read loop (made on first use: the quick report takes the batch-1 model's).</summary>
    public ReadFloor Read => read ??= new ReadFloor(Cell.PackedBytes / (Shape.Input + Shape.Hidden) * Shape.Hidden);

    private float[] Xs { get; }

    private float[] H { get; }

    private float[] C { get; }

    /// <summary>The whole sequence of B rows, keeping only the last state.</summary>
    public void Sequence() => Cell.ForwardSequence(Xs, H, C, [], H, C);

    /// <summary>The recurrent read floor, once per step of a sequence.</summary>
    public float SequenceReadFloor()
    {
        float sum = 0;
        for (int t = 0; t < PeerModel.SequenceSteps; t++)
        {
            sum += Read.Run();
        }

        return sum;
    }

    /// <summary>The compute floor, once per step of a sequence.</summary>
    public float SequenceFma()
    {
        float sum = 0;
        for (int t = 0; t < PeerModel.SequenceSteps; t++)
        {
            sum += Fma.Run();
        }

        return sum;
    }

    public void Dispose()
    {
        OrtSequence.Dispose();
        read?.Dispose();
    }
}
