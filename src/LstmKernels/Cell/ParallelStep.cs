using System.Runtime.Intrinsics;

namespace LstmKernels.Internal;

/// <summary>
/// Runs some of a step's panels on a thread-pool thread while the caller runs the rest. One instance per calling
/// thread (reused, so a step allocates nothing); the caller's spans are pinned for the duration of the call and
/// reach the worker as pointers, and the caller waits for the worker before it returns, so they stay valid.
/// </summary>
internal sealed unsafe class ParallelStep : PooledWork
{
    [ThreadStatic]
    private static ParallelStep? perThread;

    private PackedWeights? weights;
    private int firstPanel;
    private int endPanel;
    private int batch;
    private float* v;
    private int vLength;
    private float* cPrev;
    private float* hNext;
    private float* cNext;
    private int states;

    /// <summary>One step over all panels, split at <paramref name="split"/>: the caller takes [0, split), a worker the rest.</summary>
    public static void Run(PackedWeights w, int split, int batch, ReadOnlySpan<float> v, ReadOnlySpan<float> cPrev, Span<float> hNext, Span<float> cNext)
    {
        ParallelStep work = perThread ??= new ParallelStep();
        fixed (float* pv = v, pc = cPrev, ph = hNext, pn = cNext)
        {
            work.weights = w;
            work.firstPanel = split;
            work.endPanel = w.Panels;
            work.batch = batch;
            work.v = pv;
            work.vLength = v.Length;
            work.cPrev = pc;
            work.hNext = ph;
            work.cNext = pn;
            work.states = cPrev.Length;
            work.Start();
            try
            {
                Dispatch(w, 0, split, batch, v, cPrev, hNext, cNext);
            }
            finally
            {
                // The worker reads the pinned spans: never return (and unpin) before it is done.
                work.WaitDone();
                work.weights = null;
            }
        }

        work.ThrowIfFailed("The parallel half of an LSTM step failed.");
    }

    protected override void Work() =>
        Dispatch(
            weights!,
            firstPanel,
            endPanel,
            batch,
            new ReadOnlySpan<float>(v, vLength),
            new ReadOnlySpan<float>(cPrev, states),
            new Span<float>(hNext, states),
            new Span<float>(cNext, states));

    /// <summary>Panels [<paramref name="first"/>, <paramref name="end"/>) of a step on this thread, on the active path and the weights' format.</summary>
    public static void Dispatch(PackedWeights w, int first, int end, int batch, ReadOnlySpan<float> v, ReadOnlySpan<float> cPrev, Span<float> hNext, Span<float> cNext)
    {
        var step = new StepAction(w, first, end, batch, v, cPrev, hNext, cNext);
        FormatDispatch.Run(w.Precision, ref step);
    }

    private readonly ref struct StepAction(
        PackedWeights w, int first, int end, int batch, ReadOnlySpan<float> v, ReadOnlySpan<float> cPrev, Span<float> hNext, Span<float> cNext)
        : IPanelFormatAction
    {
        private readonly ReadOnlySpan<float> v = v;
        private readonly ReadOnlySpan<float> cPrev = cPrev;
        private readonly Span<float> hNext = hNext;
        private readonly Span<float> cNext = cNext;

        public void Run<TPanel, TP, TFormat>()
            where TPanel : struct, IPanel<TP>
            where TP : struct
            where TFormat : struct, IWeightFormat =>
            FusedStep<TPanel, TP, TFormat>.Run(w, first, end, batch, v, cPrev, hNext, cNext);
    }
}
