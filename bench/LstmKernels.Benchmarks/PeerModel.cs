namespace LstmKernels.Benchmarks;

/// <summary>
/// One size at batch 1 with its peers: the fused cell, ONNX Runtime on the same weights (a single step, and a
/// <see cref="SequenceSteps"/>-step sequence, on one intra-op thread and on two), and the floors: a single step's
/// (all packed weights read once by the fastest read loop) and a sequence step's (the recurrent half read once, plus
/// the input projection's 4H·I multiply-adds at the FMA peak: that half of every step is one matrix-matrix pass).
/// </summary>
internal sealed class PeerModel : IDisposable
{
    public const int SequenceSteps = 64;

    public PeerModel(CellShape shape)
    {
        Shape = shape;
        Pointwise = new PointwiseCost(1, shape.Hidden);
        LstmParameters parameters = LstmParameters.CreateRandom(shape.Input, shape.Hidden, seed: 1);
        Cell = new LstmCell(parameters);
        CellBFloat16 = new LstmCell(parameters, WeightPrecision.BFloat16);
        CellInt8 = new LstmCell(parameters, WeightPrecision.Int8);
        CellTwoThreads = new LstmCell(parameters) { StepThreads = 2 };
        CellSeparatePass = new LstmCell(parameters) { LookaheadEnabled = false };
        OrtStep = new OrtPeer(parameters, Cell, batch: 1, steps: 1);
        OrtSequence = new OrtPeer(parameters, Cell, batch: 1, steps: SequenceSteps);
        OrtStepTwoThreads = new OrtPeer(parameters, Cell, batch: 1, steps: 1, threads: 2);
        OrtSequenceTwoThreads = new OrtPeer(parameters, Cell, batch: 1, steps: SequenceSteps, threads: 2);
        StepFloor = new ReadFloor(Cell.PackedBytes);

        // The recurrent rows of the packed panels: H of the I + H rows of each panel.
        StepFloorRecurrent = new ReadFloor(Cell.PackedBytes / (shape.Input + shape.Hidden) * shape.Hidden);
        StepFma = new FmaFloor(shape.Input, shape.Hidden);
        ProjectionFma = new FmaFloor(4L * shape.Hidden * shape.Input);
        X = Data.Uniform(shape.Input, 1f, seed: 2);
        H = new float[shape.Hidden];
        C = new float[shape.Hidden];
        Xs = Data.Uniform(SequenceSteps * shape.Input, 1f, seed: 3);
    }

    public CellShape Shape { get; }

    /// <summary>The pointwise stage of one step on its own (no floor counts it).</summary>
    public PointwiseCost Pointwise { get; }

    public LstmCell Cell { get; }

    public LstmCell CellBFloat16 { get; }

    public LstmCell CellInt8 { get; }

    public LstmCell CellTwoThreads { get; }

    /// <summary>The float32 cell with the batch-1 lookahead route off: each chunk's projection is a separate pass.</summary>
    public LstmCell CellSeparatePass { get; }

    public OrtPeer OrtStep { get; }

    public OrtPeer OrtSequence { get; }

    /// <summary>ONNX Runtime's single step with intra_op_num_threads = 2, against <see cref="CellTwoThreads"/>.</summary>
    public OrtPeer OrtStepTwoThreads { get; }

    /// <summary>ONNX Runtime's sequence with intra_op_num_threads = 2, against <see cref="CellTwoThreads"/>.</summary>
    public OrtPeer OrtSequenceTwoThreads { get; }

    public ReadFloor StepFloor { get; }

    /// <summary>The read floor of a sequence step's recurrent half (Wₕₕ).</summary>
    public ReadFloor StepFloorRecurrent { get; }

    /// <summary>The input projection's multiply-adds of one sequence step, 4H·I, on registers only.</summary>
    public FmaFloor ProjectionFma { get; }

    /// <summary>The FMAs of one step (single or sequence) on registers only: the compute floor.</summary>
    public FmaFloor StepFma { get; }

    private float[] X { get; }

    private float[] H { get; }

    private float[] C { get; }

    private float[] Xs { get; }

    /// <summary>One fused step in place.</summary>
    public void Step() => Cell.Forward(X, H, C, H, C);

    /// <summary>One fused step in place with bfloat16 weights.</summary>
    public void StepBFloat16() => CellBFloat16.Forward(X, H, C, H, C);

    /// <summary>One fused step in place with int8 weights.</summary>
    public void StepInt8() => CellInt8.Forward(X, H, C, H, C);

    /// <summary>One fused float32 step in place, its panels split over two threads.</summary>
    public void StepTwoThreads() => CellTwoThreads.Forward(X, H, C, H, C);

    /// <summary>A whole <see cref="SequenceSteps"/>-step sequence through <see cref="LstmCell.ForwardSequence"/>, keeping only the last state.</summary>
    public void Sequence() => Cell.ForwardSequence(Xs, H, C, [], H, C);

    /// <summary><see cref="Sequence"/> with the projection of each chunk as a separate pass (no lookahead).</summary>
    public void SequenceSeparatePass() => CellSeparatePass.ForwardSequence(Xs, H, C, [], H, C);

    /// <summary><see cref="Sequence"/> with <see cref="LstmCell.StepThreads"/> = 2: the next chunk projected on a second thread.</summary>
    public void SequenceTwoThreads() => CellTwoThreads.ForwardSequence(Xs, H, C, [], H, C);

    /// <summary>
    /// The sequence floor, once per step: Wₕₕ read once by the fastest read loop, then the step's input-projection FMAs at
    /// the FMA peak. Timed as one run, so the two parts come from the same moment of the machine.
    /// </summary>
    public float SequenceFloor()
    {
        float sum = 0;
        for (int t = 0; t < SequenceSteps; t++)
        {
            sum += StepFloorRecurrent.Run();
            sum += ProjectionFma.Run();
        }

        return sum;
    }

    /// <summary>The recurrent read floor alone, once per step of a sequence.</summary>
    public float SequenceReadFloor()
    {
        float sum = 0;
        for (int t = 0; t < SequenceSteps; t++)
        {
            sum += StepFloorRecurrent.Run();
        }

        return sum;
    }

    /// <summary>The compute floor, once per step of a sequence.</summary>
    public float SequenceFma()
    {
        float sum = 0;
        for (int t = 0; t < SequenceSteps; t++)
        {
            sum += StepFma.Run();
        }

        return sum;
    }

    public void Dispose()
    {
        OrtStep.Dispose();
        OrtSequence.Dispose();
        OrtStepTwoThreads.Dispose();
        OrtSequenceTwoThreads.Dispose();
        StepFloor.Dispose();
        StepFloorRecurrent.Dispose();
    }
}
