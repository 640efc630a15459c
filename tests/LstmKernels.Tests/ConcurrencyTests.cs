namespace LstmKernels.Tests;

/// <summary>
/// One set of prepared weights (an <see cref="LstmCell"/>, an <see cref="Lstm"/>) shared by several threads, each
/// stepping thousands of streams with different sequences, interleaved step by step: every stream's outputs must be
/// bitwise equal to the same stream run alone on one thread. A shared scratch buffer, state kept on the weights
/// object or a race on the thread-static scratch would mix streams and show up here as a mismatch.
/// </summary>
public sealed class ConcurrencyTests
{
    private const int Input = 13;
    private const int Hidden = 37;

    /// <summary>Dedicated threads (not the pool) so that they really run at once; at least 4 even on a small machine.</summary>
    private static readonly int Threads = Math.Clamp(Environment.ProcessorCount, 4, 8);

    [Theory]
    [InlineData(WeightPrecision.Float32, 2048)]
    [InlineData(WeightPrecision.BFloat16, 512)]
    [InlineData(WeightPrecision.Int8, 512)]
    public void LstmCell_ThousandsOfStreamsOnSeveralThreads_MatchEachStreamRunAlone(WeightPrecision precision, int streams)
    {
        var cell = new LstmCell(LstmParameters.CreateRandom(Input, Hidden, seed: 601), precision);
                const int Steps = 6;

        // Stream s steps a batch of 1 + s % 3 rows (different thread-static scratch sizes on one thread), its own inputs.
        CellStream[] alone = CellStream.Create(streams, Steps, seed: 7);
        foreach (CellStream stream in alone)
        {
            for (int t = 0; t < Steps; t++)
            {
                stream.Step(cell, t);
            }
        }

        CellStream[] shared = CellStream.Create(streams, Steps, seed: 7);
        RunOnThreads(streams, Steps, (s, t) => shared[s].Step(cell, t));

        for (int s = 0; s < streams; s++)
        {
            Check.BitwiseEqual(alone[s].Outputs, shared[s].Outputs, $"stream {s} h over time");
            Check.BitwiseEqual(alone[s].C, shared[s].C, $"stream {s} final c");
        }
    }

    [Fact]
    public void LstmCell_ForwardSequenceOnSeveralThreads_MatchesRunAlone()
    {
        // ForwardSequence keeps its projection and state in thread-static scratch; different T and B per call.
        var cell = new LstmCell(LstmParameters.CreateRandom(Input, Hidden, seed: 602));
        const int Calls = 256;
        float[][] xs = new float[Calls][];
        float[][] expected = new float[Calls][];
        for (int k = 0; k < Calls; k++)
        {
            int batch = 1 + (k % 4), steps = 1 + (k % 9);
            xs[k] = Generators.Fill(steps * batch * Input, Dist.Unit, 1000 + k);
            expected[k] = Sequence(cell, xs[k], batch);
        }

        float[][] got = new float[Calls][];
        RunOnThreads(Calls, 1, (k, _) => got[k] = Sequence(cell, xs[k], 1 + (k % 4)));
        for (int k = 0; k < Calls; k++)
        {
            Check.BitwiseEqual(expected[k], got[k], $"call {k} ys|hT|cT");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LstmSessions_ThousandsOnSeveralThreads_MatchEachSessionRunAlone(bool unfused)
    {
        // Two layers over one shared Lstm; the unfused route (peepholes and a clip) uses the session's own gate buffers.
        LstmParameters[] cells = [LstmParameters.CreateRandom(Input, Hidden, 603), LstmParameters.CreateRandom(Hidden, Hidden, 604)];
        if (unfused)
        {
            cells = [Peep.With(cells[0], Generators.Fill(3 * Hidden, Dist.Unit, 605)), Peep.With(cells[1], Generators.Fill(3 * Hidden, Dist.Unit, 606))];
        }

        LstmOptions options = unfused ? new LstmOptions { Clip = 3f } : LstmOptions.Default;
        var lstm = Lstm.Create(cells, options);
        Assert.Equal(!unfused, lstm.Engine.IsFused);
        int sessions = unfused ? 256 : 1024;
        const int Steps = 6;

        SessionStream[] alone = SessionStream.Create(lstm, sessions, Steps, seed: 11);
        foreach (SessionStream stream in alone)
        {
            for (int t = 0; t < Steps; t++)
            {
                stream.Step(t);
            }
        }

        SessionStream[] shared = SessionStream.Create(lstm, sessions, Steps, seed: 11);
        RunOnThreads(sessions, Steps, (s, t) => shared[s].Step(t));

        for (int s = 0; s < sessions; s++)
        {
            Check.BitwiseEqual(alone[s].Outputs, shared[s].Outputs, $"session {s} y over time");
            Check.BitwiseEqual(alone[s].Session.HiddenState, shared[s].Session.HiddenState, $"session {s} final h");
            Check.BitwiseEqual(alone[s].Session.CellState, shared[s].Session.CellState, $"session {s} final c");
            Assert.Equal(Steps, shared[s].Session.StepCount);
        }
    }

    [Fact]
    public void Lstm_ForwardOnSeveralThreads_MatchesRunAlone()
    {
        // Lstm.Forward rents its scratch from the shared ArrayPool; bidirectional, two layers, ragged lengths.
        LstmParameters[] cells =
        [
            LstmParameters.CreateRandom(Input, Hidden, 607), LstmParameters.CreateRandom(Input, Hidden, 608),
            LstmParameters.CreateRandom(2 * Hidden, Hidden, 609), LstmParameters.CreateRandom(2 * Hidden, Hidden, 610),
        ];
        var lstm = Lstm.Create(cells, new LstmOptions { Direction = LstmDirection.Bidirectional });
        const int Calls = 128;
        float[][] expected = new float[Calls][];
        for (int k = 0; k < Calls; k++)
        {
            expected[k] = Forward(lstm, k);
        }

        float[][] got = new float[Calls][];
        RunOnThreads(Calls, 1, (k, _) => got[k] = Forward(lstm, k));
        for (int k = 0; k < Calls; k++)
        {
            Check.BitwiseEqual(expected[k], got[k], $"call {k} y|hT|cT");
        }
    }

    /// <summary>
    /// Runs <paramref name="step"/>(item, t) for every item and t on <see cref="Threads"/> threads started together:
    /// thread k owns items k, k + Threads, …, and steps them round-robin (t = 0 for all of its items, then t = 1, …),
    /// so that every thread has many streams in flight at once. Exceptions on a thread fail the test.
    /// </summary>
    private static void RunOnThreads(int items, int steps, Action<int, int> step)
    {
        using var start = new Barrier(Threads);
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var threads = new Thread[Threads];
        for (int k = 0; k < Threads; k++)
        {
            int first = k;
            threads[k] = new Thread(() =>
            {
                try
                {
                    start.SignalAndWait();
                    for (int t = 0; t < steps; t++)
                    {
                        for (int item = first; item < items; item += Threads)
                        {
                            step(item, t);
                        }
                    }
                }
#pragma warning disable CA1031 // Any exception on a worker is reported by the test thread.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    errors.Enqueue(e);
                }
            });
            threads[k].Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        Assert.True(errors.IsEmpty, string.Join("\n", errors));
    }

    private static float[] Sequence(LstmCell cell, float[] xs, int batch)
    {
        int states = batch * Hidden;
        int steps = xs.Length / (batch * Input);
        float[] h0 = Generators.Fill(states, Dist.Unit, xs.Length);
        float[] c0 = Generators.Fill(states, Dist.Wide, xs.Length + 1);
        float[] ys = new float[steps * states], hT = new float[states], cT = new float[states];
        cell.ForwardSequence(xs, h0, c0, ys, hT, cT);
        return [.. ys, .. hT, .. cT];
    }

    private static float[] Forward(Lstm lstm, int k)
    {
        int batch = 1 + (k % 3), steps = 2 + (k % 5);
        int states = 4 * batch * Hidden;
        float[] x = Generators.Fill(steps * batch * Input, Dist.Unit, 2000 + k);
        float[] h0 = Generators.Fill(states, Dist.Unit, 3000 + k);
        float[] c0 = Generators.Fill(states, Dist.Unit, 4000 + k);
        int[] lengths = Enumerable.Range(0, batch).Select(b => Math.Max(0, steps - b - (k % 2))).ToArray();
        float[] y = new float[steps * batch * 2 * Hidden], hT = new float[states], cT = new float[states];
        lstm.Forward(batch, x, h0, c0, y, hT, cT, lengths);
        return [.. y, .. hT, .. cT];
    }

    /// <summary>One stream over an LstmCell: its batch, inputs, state and every h it produced.</summary>
    private sealed class CellStream
    {
        private readonly int batch;
        private readonly float[] xs;
        private readonly float[] h;

        private CellStream(int batch, int steps, int seed)
        {
            this.batch = batch;
            xs = Generators.Fill(steps * batch * Input, seed % 2 == 0 ? Dist.Unit : Dist.Wide, seed);
            h = Generators.Fill(batch * Hidden, Dist.Unit, seed + 1);
            C = Generators.Fill(batch * Hidden, Dist.Unit, seed + 2);
            Outputs = new float[steps * batch * Hidden];
        }

        public float[] C { get; }

        public float[] Outputs { get; }

        public static CellStream[] Create(int count, int steps, int seed) =>
            Enumerable.Range(0, count).Select(s => new CellStream(1 + (s % 3), steps, (seed * 100_000) + (3 * s))).ToArray();

        public void Step(LstmCell cell, int t)
        {
            int rows = batch * Input, states = batch * Hidden;
            cell.Forward(xs.AsSpan(t * rows, rows), h, C, h, C);
            h.CopyTo(Outputs.AsSpan(t * states, states));
        }
    }

    /// <summary>One LstmSession with its inputs and every output it produced.</summary>
    private sealed class SessionStream
    {
        private readonly float[] xs;

        private SessionStream(Lstm lstm, int batch, int steps, int seed)
        {
            Session = lstm.CreateSession(batch);
            xs = Generators.Fill(steps * batch * Input, Dist.Unit, seed);
            Session.Reset(Generators.Fill(Session.HiddenState.Length, Dist.Unit, seed + 1), Generators.Fill(Session.CellState.Length, Dist.Unit, seed + 2));
            Outputs = new float[steps * batch * Hidden];
        }

        public LstmSession Session { get; }

        public float[] Outputs { get; }

        public static SessionStream[] Create(Lstm lstm, int count, int steps, int seed) =>
            Enumerable.Range(0, count).Select(s => new SessionStream(lstm, 1 + (s % 2), steps, (seed * 100_000) + (3 * s))).ToArray();

        public void Step(int t)
        {
            int rows = Session.BatchSize * Input, states = Session.BatchSize * Hidden;
            Session.Step(xs.AsSpan(t * rows, rows), Outputs.AsSpan(t * states, states));
        }
    }
}
