namespace LstmKernels.Internal;

/// <summary>
/// Part of a sequence on a thread-pool thread while the caller runs another part: the input projection of a chunk of
/// steps (<see cref="FusedStep{TPanel, TP, TFormat}.Project(PackedWeights, int, int, int, ReadOnlySpan{float}, Span{float})"/>),
/// or one recurrent step (<see cref="FusedStep{TPanel, TP, TFormat}.Recurrent(PackedWeights, int, int, int, ReadOnlySpan{float}, ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, Span{float})"/>),
/// each over a range of panels. One instance per calling thread and instantiation, reused, so handing work over
/// allocates nothing. The caller pins everything the work reads or writes, calls <see cref="End"/> before it
/// unpins (in a <c>finally</c>), and <see cref="ThrowIfFailed()"/> after its own part.
/// </summary>
internal sealed unsafe class ParallelSequence<TPanel, TP, TFormat> : PooledWork
    where TPanel : struct, IPanel<TP>
    where TP : struct
    where TFormat : struct, IWeightFormat
{
    [ThreadStatic]
    private static ParallelSequence<TPanel, TP, TFormat>? perThread;

    private PackedWeights? weights;
    private bool recurrent;
    private int firstPanel;
    private int endPanel;
    private int rows;
    private float* xs;
    private float* projection;
    private float* hPrev;
    private float* c;
    private float* hNext;

    /// <summary>This thread's instance.</summary>
    public static ParallelSequence<TPanel, TP, TFormat> ForThread() => perThread ??= new ParallelSequence<TPanel, TP, TFormat>();

    /// <summary>Starts projecting <paramref name="rows"/> input rows at <paramref name="inputs"/> into <paramref name="output"/>, panels [first, end).</summary>
    public void BeginProject(PackedWeights w, int first, int end, int rows, float* inputs, float* output)
    {
        Set(w, recurrent: false, first, end, rows);
        xs = inputs;
        projection = output;
        Start();
    }

    /// <summary>Starts one recurrent step of <paramref name="batch"/> rows, panels [first, end); c is updated in place.</summary>
    public void BeginRecurrent(PackedWeights w, int first, int end, int batch, float* stepProjection, float* h, float* state, float* hOut)
    {
        Set(w, recurrent: true, first, end, batch);
        projection = stepProjection;
        hPrev = h;
        c = state;
        hNext = hOut;
        Start();
    }

    /// <summary>Runs the work here if no pool thread has started it, else waits for it; call in a <c>finally</c>.</summary>
    public void End()
    {
        WaitDone();
        weights = null;
    }

    /// <summary>After <see cref="End"/>: rethrows, wrapped, what the work threw.</summary>
    public void ThrowIfFailed() => ThrowIfFailed("The parallel part of an LSTM sequence failed.");

    protected override void Work()
    {
        PackedWeights w = weights!;
        if (recurrent)
        {
            int states = rows * w.Hidden;
            FusedStep<TPanel, TP, TFormat>.Recurrent(
                w, firstPanel, endPanel, rows, new ReadOnlySpan<float>(projection, rows * w.ProjectionFloats), new ReadOnlySpan<float>(hPrev, states),
                new ReadOnlySpan<float>(c, states), new Span<float>(hNext, states), new Span<float>(c, states));
        }
        else
        {
            FusedStep<TPanel, TP, TFormat>.Project(
                w, firstPanel, endPanel, rows, new ReadOnlySpan<float>(xs, rows * w.Input), new Span<float>(projection, rows * w.ProjectionFloats));
        }
    }

    private void Set(PackedWeights w, bool recurrent, int first, int end, int rows)
    {
        weights = w;
        this.recurrent = recurrent;
        firstPanel = first;
        endPanel = end;
        this.rows = rows;
    }
}
