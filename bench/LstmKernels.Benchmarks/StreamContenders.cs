using LstmKernels.Testing;
using Microsoft.ML.OnnxRuntime;

namespace LstmKernels.Benchmarks;

/// <summary>N live streams of one model, stepped one step at a time by <see cref="StreamLoops"/>.</summary>
internal interface IStreamContender : IDisposable
{
    string Name { get; }

    int Streams { get; }

    /// <summary>Whether a step completes on its caller's thread (the loop then yields to the pool after it, as a request handler would).</summary>
    bool YieldsAfterStep { get; }

    /// <summary>One step of stream <paramref name="stream"/>, its input and output buffers its own.</summary>
    ValueTask StepAsync(int stream);
}

/// <summary>One size, one weight precision: the model and the inputs every contender of the streams benchmark shares.</summary>
internal sealed class StreamsModel
{
    /// <param name="size">I = H.</param>
    /// <param name="precision">The weights' precision.</param>
    /// <param name="stepThreads">The model's <see cref="LstmOptions.StepThreads"/> (sessions, batcher) and the bare batch cell's.</param>
    public StreamsModel(int size, WeightPrecision precision, int stepThreads = 1)
    {
        Size = size;
        Precision = precision;
        StepThreads = stepThreads;
        Parameters = LstmParameters.CreateRandom(size, size, seed: 1);
        Lstm = Lstm.Create([Parameters], new LstmOptions { Precision = precision, StepThreads = stepThreads });
    }

    public int StepThreads { get; }

    public int Size { get; }

    public WeightPrecision Precision { get; }

    public LstmParameters Parameters { get; }

    public Lstm Lstm { get; }

    /// <summary>Stream <paramref name="stream"/>'s input, the same at every step (the state still moves).</summary>
    public float[] Input(int stream) => Data.Uniform(Size, 1f, seed: 100 + stream);
}

/// <summary>(a) One <see cref="LstmSession"/> per stream over the shared <see cref="Lstm"/>: each step runs alone on its caller's thread.</summary>
internal sealed class SessionStreams : IStreamContender
{
    private readonly LstmSession[] sessions;
    private readonly float[][] x;
    private readonly float[][] y;

    public SessionStreams(StreamsModel model, int streams)
    {
        sessions = new LstmSession[streams];
        x = new float[streams][];
        y = new float[streams][];
        for (int s = 0; s < streams; s++)
        {
            sessions[s] = model.Lstm.CreateSession();
            x[s] = model.Input(s);
            y[s] = new float[model.Size];
        }
    }

    public string Name => "sessions";

    public int Streams => sessions.Length;

    public bool YieldsAfterStep => true;

    public ValueTask StepAsync(int stream)
    {
        sessions[stream].Step(x[stream], y[stream]);
        return default;
    }

    /// <summary>Stream 0's session, for the one-stream timing.</summary>
    public LstmSession First => sessions[0];

    public float[] FirstInput => x[0];

    public float[] FirstOutput => y[0];

    public void Dispose()
    {
    }
}

/// <summary>(b) One <see cref="LstmStream"/> per stream of one <see cref="LstmBatcher"/> with maxBatch = N: the pending steps run as one batch.</summary>
internal sealed class BatcherStreams : IStreamContender
{
    private readonly LstmStream[] streams;
    private readonly ReadOnlyMemory<float>[] x;
    private readonly Memory<float>[] y;

    /// <param name="model">The model and inputs.</param>
    /// <param name="streams">N, also the batcher's maxBatch.</param>
    /// <param name="asyncContinuations"><see cref="LstmBatcherOptions.RunContinuationsAsynchronously"/> (the default, false: continuations run on the batch's thread; or true: on the pool).</param>
    public BatcherStreams(StreamsModel model, int streams, bool asyncContinuations = false)
    {
        Batcher = new LstmBatcher(model.Lstm, streams, new LstmBatcherOptions { RunContinuationsAsynchronously = asyncContinuations });
        this.streams = new LstmStream[streams];
        x = new ReadOnlyMemory<float>[streams];
        y = new Memory<float>[streams];
        for (int s = 0; s < streams; s++)
        {
            this.streams[s] = Batcher.Open();
            x[s] = model.Input(s);
            y[s] = new float[model.Size];
        }
    }

    public LstmBatcher Batcher { get; }

    public string Name => "batcher";

    public int Streams => streams.Length;

    public bool YieldsAfterStep => false;

    public ValueTask StepAsync(int stream) => streams[stream].StepAsync(x[stream], y[stream]);

    /// <summary>Stream 0 stepped synchronously (<see cref="LstmStream.Step"/>), for the one-stream timing.</summary>
    public void StepFirst() => streams[0].Step(x[0].Span, y[0].Span);

    public void Dispose() => Batcher.Dispose();
}

/// <summary>
/// (d) ONNX Runtime as a user would stream with it: one single-step, batch-1 LSTM graph in one
/// <see cref="InferenceSession"/> (loaded once, as one would in a service; its <c>Run</c> is thread-safe), and per
/// stream its own IoBinding over its own x, h, c, y buffers, with the state fed back after each step (Y_h → h, Y_c → c).
/// One intra-op thread: the streams are the parallelism. Float32 only; ONNX Runtime's LSTM has no bfloat16 kernel.
/// </summary>
internal sealed class OrtStreams : IStreamContender
{
    /// <summary>The largest |ORT − LstmKernels| accepted in y over the check's steps (float32 both; as <see cref="OrtPeer"/>).</summary>
    private const double Agreement = 2e-5;

    private const int CheckSteps = 3;

    private readonly InferenceSession session;
    private readonly Stream[] streams;

    public OrtStreams(StreamsModel model, int streams)
    {
        if (model.Precision != WeightPrecision.Float32)
        {
            throw new NotSupportedException("ONNX Runtime's LSTM has float32 weights only; there is no bfloat16 peer.");
        }

        int size = model.Size;
        session = OrtPeer.CreateSession(model.Parameters, batch: 1, steps: 1);
        this.streams = new Stream[streams];
        for (int s = 0; s < streams; s++)
        {
            this.streams[s] = new Stream(session, model.Input(s), size);
        }

        Check(model);
    }

    public string Name => "ONNX Runtime";

    public int Streams => streams.Length;

    public bool YieldsAfterStep => true;

    public ValueTask StepAsync(int stream)
    {
        streams[stream].Step();
        return default;
    }

    public void Dispose()
    {
        foreach (Stream stream in streams)
        {
            stream.Dispose();
        }

        session.Dispose();
    }

    /// <summary>A peer is timed only after it is shown to compute the same thing: stream 0 against an <see cref="LstmSession"/>.</summary>
    private void Check(StreamsModel model)
    {
        Stream first = streams[0];
        LstmSession reference = model.Lstm.CreateSession();
        float[] y = new float[model.Size];
        double worst = 0;
        for (int t = 0; t < CheckSteps; t++)
        {
            first.Step();
            reference.Step(first.X, y);
            for (int k = 0; k < y.Length; k++)
            {
                worst = Math.Max(worst, Math.Abs(y[k] - first.Y[k]));
            }
        }

        if (!(worst <= Agreement))
        {
            throw new InvalidOperationException($"ONNX Runtime and LstmKernels disagree by {worst:e2} (> {Agreement:e0}); not timing a peer that computes something else.");
        }

        first.Reset();
    }

    private sealed class Stream : IDisposable
    {
        private readonly InferenceSession session;
        private readonly OrtIoBinding binding;
        private readonly RunOptions runOptions = new();
        private readonly OrtValue[] values;
        private readonly float[] h;
        private readonly float[] c;
        private readonly float[] yh;
        private readonly float[] yc;

        public Stream(InferenceSession session, float[] x, int hidden)
        {
            this.session = session;
            X = x;
            Y = new float[hidden];
            h = new float[hidden];
            c = new float[hidden];
            yh = new float[hidden];
            yc = new float[hidden];
            values =
            [
                OrtValue.CreateTensorValueFromMemory(X, [1, 1, x.Length]),
                OrtValue.CreateTensorValueFromMemory(h, [1, 1, hidden]),
                OrtValue.CreateTensorValueFromMemory(c, [1, 1, hidden]),
                OrtValue.CreateTensorValueFromMemory(Y, [1, 1, 1, hidden]),
                OrtValue.CreateTensorValueFromMemory(yh, [1, 1, hidden]),
                OrtValue.CreateTensorValueFromMemory(yc, [1, 1, hidden]),
            ];
            binding = session.CreateIoBinding();
            binding.BindInput("X", values[0]);
            binding.BindInput("initial_h", values[1]);
            binding.BindInput("initial_c", values[2]);
            binding.BindOutput("Y", values[3]);
            binding.BindOutput("Y_h", values[4]);
            binding.BindOutput("Y_c", values[5]);
        }

        public float[] X { get; }

        public float[] Y { get; }

        public void Step()
        {
            session.RunWithBinding(runOptions, binding);
            yh.CopyTo(h, 0);
            yc.CopyTo(c, 0);
        }

        public void Reset()
        {
            Array.Clear(h);
            Array.Clear(c);
        }

        public void Dispose()
        {
            binding.Dispose();
            foreach (OrtValue value in values)
            {
                value.Dispose();
            }

            runOptions.Dispose();
        }
    }
}

/// <summary>(c) The ideal: all N rows as one <see cref="LstmCell.Forward"/> batch on one thread, state in place, no streams, no queue.</summary>
internal sealed class BareBatch
{
    private readonly LstmCell cell;
    private readonly float[] x;
    private readonly float[] h;
    private readonly float[] c;

    public BareBatch(StreamsModel model, int rows)
    {
        Rows = rows;
        cell = new LstmCell(model.Parameters, model.Precision) { StepThreads = model.StepThreads };
        x = new float[rows * model.Size];
        for (int r = 0; r < rows; r++)
        {
            model.Input(r).CopyTo(x, r * model.Size);
        }

        h = new float[rows * model.Size];
        c = new float[rows * model.Size];
    }

    public int Rows { get; }

    /// <summary>One batch step of all rows, in place.</summary>
    public void Step() => cell.Forward(x, h, c, h, c);
}
