namespace LstmKernels.Internal;

/// <summary>
/// The batch machinery of an <see cref="LstmBatcher"/>: the batch buffers, the step over them, and the engine thread
/// that runs queued batches. One batch runs at a time (the batcher's running flag admits one runner), so nothing here
/// locks.
/// </summary>
internal sealed class BatchRunner
{
    private readonly LayerEngine engine;
    private readonly int input;
    private readonly int state;
    private readonly int hidden;
    private readonly int layers;
    private readonly int maxBatch;
    private readonly float[] x;
    private readonly float[] h;
    private readonly float[] c;
    private readonly float[] scratch;
    private readonly object signal = new();
    private Thread? thread;
    private bool stopped;
    private bool handoff;
    private int owner;

    public BatchRunner(Lstm lstm, int maxBatch)
    {
        engine = lstm.Engine;
        input = lstm.InputSize;
        state = lstm.StateSize;
        hidden = lstm.HiddenSize;
        layers = lstm.Layers;
        this.maxBatch = maxBatch;
        x = new float[maxBatch * input];
        h = new float[layers * maxBatch * state];
        c = new float[layers * maxBatch * hidden];
        scratch = new float[engine.StepScratchLength(maxBatch)];
        Batch = new LstmStream?[maxBatch];
    }

    /// <summary>The streams of the batch being run, rows [0, n).</summary>
    public LstmStream?[] Batch { get; }

    /// <summary>A test hook: called with the batch size on the runner's thread before each batch runs.</summary>
    public Action<int>? OnBatch { get; set; }

    /// <summary>Whether the calling thread is the one running batches now.</summary>
    public bool IsCurrentThread => Volatile.Read(ref owner) == Environment.CurrentManagedThreadId;

    /// <summary>The calling thread becomes the runner (until <see cref="Exit"/>).</summary>
    public void Enter() => Volatile.Write(ref owner, Environment.CurrentManagedThreadId);

    public void Exit() => Volatile.Write(ref owner, 0);

    /// <summary>Hands the queued steps to the engine thread, which calls <paramref name="drain"/> (started at the first hand-off).</summary>
    public void Wake(Action drain)
    {
        if (thread is null)
        {
            thread = new Thread(() => Loop(drain)) { IsBackground = true, Name = "LstmBatcher engine" };
            thread.Start();
        }

        lock (signal)
        {
            handoff = true;
            Monitor.Pulse(signal);
        }
    }

    /// <summary>Ends the engine thread after the batch it runs, if any.</summary>
    public void Stop()
    {
        lock (signal)
        {
            stopped = true;
            Monitor.Pulse(signal);
        }
    }

    /// <summary>
    /// One step of every layer for the streams in <see cref="Batch"/>[0, n): gathers their inputs and states into the
    /// batch rows, steps, and writes states and outputs back. Row 0 is <paramref name="inlineX"/> →
    /// <paramref name="inlineY"/> when <paramref name="hasInline"/> (a step run on its caller's thread). Nothing is written
    /// back unless every layer ran.
    /// </summary>
    public void Run(int n, ReadOnlySpan<float> inlineX, Span<float> inlineY, bool hasInline)
    {
        OnBatch?.Invoke(n);
        for (int r = 0; r < n; r++)
        {
            LstmStream s = Batch[r]!;
            ReadOnlySpan<float> xr = hasInline && r == 0 ? inlineX : s.Kind == RequestKind.Async ? s.X.Span : s.StagedX;
            xr.CopyTo(x.AsSpan(r * input, input));
            for (int l = 0; l < layers; l++)
            {
                s.H.AsSpan(l * state, state).CopyTo(h.AsSpan((((l * maxBatch) + r) * state), state));
                s.C.AsSpan(l * hidden, hidden).CopyTo(c.AsSpan((((l * maxBatch) + r) * hidden), hidden));
            }
        }

        ReadOnlySpan<float> layerInput = x.AsSpan(0, n * input);
        for (int l = 0; l < layers; l++)
        {
            Span<float> hl = h.AsSpan(l * maxBatch * state, n * state);
            engine.Step(l, n, layerInput, hl, c.AsSpan(l * maxBatch * hidden, n * hidden), scratch);
            layerInput = hl;
        }

        for (int r = 0; r < n; r++)
        {
            LstmStream s = Batch[r]!;
            for (int l = 0; l < layers; l++)
            {
                h.AsSpan((((l * maxBatch) + r) * state), state).CopyTo(s.H.AsSpan(l * state, state));
                c.AsSpan((((l * maxBatch) + r) * hidden), hidden).CopyTo(s.C.AsSpan(l * hidden, hidden));
            }

            ReadOnlySpan<float> yr = layerInput.Slice(r * state, state);
            Span<float> target = hasInline && r == 0 ? inlineY : s.Kind == RequestKind.Async ? s.Y.Span : s.WantsY ? s.StagedY : default;
            if (!target.IsEmpty)
            {
                yr.CopyTo(target);
            }

            s.StepCount++;
        }
    }

    private void Loop(Action drain)
    {
        while (true)
        {
            bool run;
            lock (signal)
            {
                while (!handoff && !stopped)
                {
                    Monitor.Wait(signal);
                }

                // A hand-off is honoured even after Stop: the drain is what clears the batcher's running flag.
                run = handoff;
                handoff = false;
            }

            if (run)
            {
                drain();
            }
            else
            {
                return;
            }
        }
    }
}
