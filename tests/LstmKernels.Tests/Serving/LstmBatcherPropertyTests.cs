using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;

namespace LstmKernels.Tests;

/// <summary>
/// The batcher's contract as properties: every stream's outputs are bitwise those of its own <see cref="LstmSession"/>,
/// whatever the model (precision, threads, layers, projection, peepholes), the batch size limit, the number of threads,
/// the arrival order, sync or async steps, resets, and streams opened late or closed early. Under the batcher lies the
/// fact that a row of a batch step gets the bits it would get alone, tested first on sessions.
/// </summary>
[Properties(Arbitrary = [typeof(LstmBatcherPropertyTests)], MaxTest = 40)]
public sealed class LstmBatcherPropertyTests
{
    public static Arbitrary<RowsCase> RowsCases() =>
        Arb.From(
            from model in BatcherModel.Gen
            from batch in Gen.Elements(1, 2, 3, 4, 5, 7, 8, 9)
            from steps in Gen.Choose(1, 4)
            from seed in Generators.Seed
            select new RowsCase(model, batch, steps, seed));

    public static Arbitrary<InterleavingCase> InterleavingCases() =>
        Arb.From(
            from model in BatcherModel.Gen
            from streams in Gen.Choose(1, 7)
            from threads in Gen.Choose(1, 4)
            from maxBatch in Gen.Elements(1, 2, 3, 4, 5, 8)
            from steps in Gen.Choose(1, 7)
            from asyncContinuations in Gen.Elements(true, false)
            from seed in Generators.Seed
            select new InterleavingCase(model, streams, threads, maxBatch, steps, asyncContinuations, seed));

    /// <summary>A session of B rows gives each row the bits of a session of one row: the engine fact the batcher stands on.</summary>
    [Property]
    public void SessionRows_AreBitwiseTheirOwnSessions(RowsCase c)
    {
        Lstm lstm = c.Model.Build();
        LstmSession batch = lstm.CreateSession(c.Batch);
        var alone = new LstmSession[c.Batch];
        for (int b = 0; b < c.Batch; b++)
        {
            alone[b] = lstm.CreateSession();
        }

        int input = lstm.InputSize, state = lstm.StateSize;
        float[] y = new float[c.Batch * state], yAlone = new float[state];
        for (int t = 0; t < c.Steps; t++)
        {
            float[] x = Generators.Fill(c.Batch * input, Dist.Wide, c.Seed + t);
            batch.Step(x, y);
            for (int b = 0; b < c.Batch; b++)
            {
                alone[b].Step(x.AsSpan(b * input, input), yAlone);
                Check.BitwiseEqual(yAlone, y.AsSpan(b * state, state), $"{c}: step {t}, row {b}");
            }
        }
    }

    /// <summary>Streams through the batcher, from several threads at once, give the bits of their own sessions.</summary>
    [Property]
    public void Streams_AreBitwiseTheirOwnSessions_UnderAnyInterleaving(InterleavingCase c)
    {
        Lstm lstm = c.Model.Build();
        var plans = new StreamPlan[c.Streams];
        var schedule = new Random(c.Seed);
        for (int s = 0; s < c.Streams; s++)
        {
            int steps = schedule.Next(1, c.Steps + 1);
            plans[s] = new StreamPlan(
                Generators.Fill(steps * lstm.InputSize, Dist.Wide, c.Seed + s),
                steps,
                ResetBefore: schedule.Next(4) == 0 ? schedule.Next(steps) : -1,
                AsyncSteps: schedule.Next(3),
                Outputs: new float[steps * lstm.StateSize]);
        }

        using (var batcher = new LstmBatcher(lstm, c.MaxBatch, new LstmBatcherOptions { RunContinuationsAsynchronously = c.AsyncContinuations }))
        {
            // Random pauses in the runner widen the windows in which steps queue up and batch.
            batcher.OnBatch = n => Thread.SpinWait(Random.Shared.Next(0, 3000));
            using var start = new Barrier(c.Threads);
            var workers = new Thread[c.Threads];
            var failures = new List<Exception>();
            for (int w = 0; w < c.Threads; w++)
            {
                int worker = w;
                workers[w] = new Thread(() =>
                {
                    try
                    {
                        start.SignalAndWait();
                        RunWorker(batcher, plans, worker, c.Threads, new Random(c.Seed + (31 * worker)));
                    }
                    catch (Exception e)
                    {
                        lock (failures)
                        {
                            failures.Add(e);
                        }
                    }
                });
                workers[w].Start();
            }

            foreach (Thread t in workers)
            {
                t.Join();
            }

            Assert.True(failures.Count == 0, $"{c}: {string.Join("; ", failures)}");
            Assert.Equal(0, batcher.OpenStreams);
        }

        for (int s = 0; s < c.Streams; s++)
        {
            StreamPlan p = plans[s];
            LstmSession session = lstm.CreateSession();
            float[] y = new float[lstm.StateSize];
            for (int t = 0; t < p.Steps; t++)
            {
                if (t == p.ResetBefore)
                {
                    session.Reset();
                }

                session.Step(p.X.AsSpan(t * lstm.InputSize, lstm.InputSize), y);
                Check.BitwiseEqual(y, p.Outputs.AsSpan(t * lstm.StateSize, lstm.StateSize), $"{c}: stream {s}, step {t}");
            }
        }
    }

    /// <summary>One worker: its streams (s ≡ worker mod threads) in a random interleaving; each opened at its first step, disposed after its last.</summary>
    private static void RunWorker(LstmBatcher batcher, StreamPlan[] plans, int worker, int threads, Random order)
    {
        var mine = new List<int>();
        for (int s = worker; s < plans.Length; s += threads)
        {
            mine.Add(s);
        }

        var streams = new Dictionary<int, LstmStream>();
        var done = new int[plans.Length];
        int input = batcher.Lstm.InputSize, state = batcher.Lstm.StateSize;
        while (mine.Count > 0)
        {
            int s = mine[order.Next(mine.Count)];
            StreamPlan p = plans[s];
            if (!streams.TryGetValue(s, out LstmStream? stream))
            {
                stream = streams[s] = batcher.Open();
            }

            int t = done[s]++;
            if (t == p.ResetBefore)
            {
                stream.Reset();
            }

            // AsyncSteps: 0 all sync, 1 all async, 2 alternating.
            if (p.AsyncSteps == 1 || (p.AsyncSteps == 2 && t % 2 == 1))
            {
                stream.StepAsync(p.X.AsMemory(t * input, input), p.Outputs.AsMemory(t * state, state)).AsTask().Wait();
            }
            else
            {
                stream.Step(p.X.AsSpan(t * input, input), p.Outputs.AsSpan(t * state, state));
            }

            if (done[s] == p.Steps)
            {
                stream.Dispose();
                mine.Remove(s);
            }
        }
    }

    public sealed record RowsCase(BatcherModel Model, int Batch, int Steps, int Seed);

    public sealed record InterleavingCase(BatcherModel Model, int Streams, int Threads, int MaxBatch, int Steps, bool AsyncContinuations, int Seed);

    private sealed record StreamPlan(float[] X, int Steps, int ResetBefore, int AsyncSteps, float[] Outputs);
}
