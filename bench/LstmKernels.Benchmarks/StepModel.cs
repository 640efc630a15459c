using LstmKernels.Reference;

namespace LstmKernels.Benchmarks;

/// <summary>
/// One cell at one size and batch, and the three routes of one step over the same weights: the reference (the
/// numpy seed in double), the fused <see cref="LstmCell"/> (packed weights) and the unfused kernels
/// (<see cref="Kernels.GateProjection"/> on PyTorch's row-major weights, then <see cref="Kernels.LstmPointwise"/>).
/// </summary>
/// <remarks>
/// Every route steps its state in place (<c>h, c ← step(x, h, c)</c>), as a service stepping a sequence does, so
/// repeated calls run a recurrence rather than recomputing one step from cold inputs.
/// </remarks>
internal sealed class StepModel
{
    private const int WeightSeed = 1;
    private const int InputSeed = 2;

    private readonly LstmParameters parameters;
    private readonly ReferenceLstmCell reference;
    private readonly float[] gates;

    public StepModel(CellShape shape, int batch)
    {
        Shape = shape;
        Batch = batch;
        parameters = LstmParameters.CreateRandom(shape.Input, shape.Hidden, WeightSeed);
        Cell = new LstmCell(parameters);
        reference = new ReferenceLstmCell(parameters);
        gates = new float[batch * 4 * shape.Hidden];
    }

    public CellShape Shape { get; }

    public int Batch { get; }

    public LstmCell Cell { get; }

    /// <summary>Multiply-adds of one step, counted as 2 flops: <c>B · 4H · (I + H)</c> of them.</summary>
    public double Flops => 2.0 * Batch * 4 * Shape.Hidden * (Shape.Input + Shape.Hidden);

    /// <summary>A zero state with inputs in [−1, 1].</summary>
    public StepState NewState() => new(Data.Uniform(Batch * Shape.Input, 1f, InputSeed), Batch * Shape.Hidden);

    public void Reference(StepState s) => reference.Forward(s.X, s.H, s.C, s.H, s.C);

    public void Fused(StepState s) => Cell.Forward(s.X, s.H, s.C, s.H, s.C);

    public void Unfused(StepState s)
    {
        Kernels.GateProjection(s.X, s.H, parameters.WeightIh, parameters.WeightHh, parameters.Bias, gates);
        Kernels.LstmPointwise(Shape.Hidden, gates, s.C, s.H, s.C);
    }
}

/// <summary>The input and the recurrent state <c>(h, c)</c> of one sequence, <c>[B, I]</c> and <c>[B, H]</c>.</summary>
internal sealed class StepState(float[] x, int states)
{
    public float[] X { get; } = x;

    public float[] H { get; } = new float[states];

    public float[] C { get; } = new float[states];
}
