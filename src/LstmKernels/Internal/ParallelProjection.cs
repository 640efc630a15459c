namespace LstmKernels.Internal;

/// <summary>
/// The input projection of a chunk of steps (<see cref="FusedStep{TPanel, TP, TFormat}.Project"/>) on a thread-pool
/// thread, while the caller runs the recurrent steps of the chunk before. One instance per calling thread and
/// instantiation, reused. The caller pins the inputs and the projection buffer, and calls <see cref="End"/> before
/// it unpins them.
/// </summary>
internal sealed unsafe class ParallelProjection<TPanel, TP, TFormat> : PooledWork
    where TPanel : struct, IPanel<TP>
    where TP : struct
    where TFormat : struct, IWeightFormat
{
    [ThreadStatic]
    private static ParallelProjection<TPanel, TP, TFormat>? perThread;

    private PackedWeights? weights;
    private int rows;
    private float* xs;
    private float* projection;

    /// <summary>Starts projecting <paramref name="rows"/> input rows at <paramref name="xs"/> into <paramref name="projection"/>.</summary>
    public static ParallelProjection<TPanel, TP, TFormat> Begin(PackedWeights w, int rows, float* xs, float* projection)
    {
        ParallelProjection<TPanel, TP, TFormat> work = perThread ??= new ParallelProjection<TPanel, TP, TFormat>();
        work.weights = w;
        work.rows = rows;
        work.xs = xs;
        work.projection = projection;
        work.Start();
        return work;
    }

    /// <summary>Waits for the projection; rethrows, wrapped, what it threw.</summary>
    public void End()
    {
        WaitDone();
        weights = null;
        ThrowIfFailed("The parallel input projection of an LSTM sequence failed.");
    }

    protected override void Work()
    {
        PackedWeights w = weights!;
        FusedStep<TPanel, TP, TFormat>.Project(
            w, rows, new ReadOnlySpan<float>(xs, rows * w.Input), new Span<float>(projection, rows * w.ProjectionFloats));
    }
}
