using System.Diagnostics;
using System.Globalization;

namespace LstmKernels.Benchmarks;

/// <summary>
/// The no-argument run: every standard size at batch 1 and 16, the three step routes timed with Stopwatch, the
/// fused step's error against the reference and its allocations, as one Markdown table in well under a minute; then the
/// peer tables (a step and a sequence at batch 1 against the floors and ONNX Runtime on one and two threads, sequences
/// at batch 4 and 16), and the streams table (<see cref="StreamsReport"/>, about another minute).
/// </summary>
internal static class QuickReport
{
    private static readonly int[] Batches = [1, 16];

    /// <summary>Steps of one sequence over which the fused state is compared with the reference's.</summary>
    private const int ErrorSteps = 4;

    // The fast routes get a warm-up long enough for tier-1 code; the reference, 100–1000× slower, gets a short
    // budget (at 1024x1024, batch 16, that is one warm-up call and three timed calls of ≈0.5 s).
    private const double WarmupSeconds = 0.25;
    private const double BudgetSeconds = 0.25;
    private const double ReferenceWarmupSeconds = 0.1;
    private const double ReferenceBudgetSeconds = 0.3;
    private const double AllocationSeconds = 0.05;

    // ONNX Runtime is native code and the batch rows run code the batch-1 rows already brought to tier 1: a short warm-up.
    private const double PeerWarmupSeconds = 0.1;
    private const double BatchBudgetSeconds = 0.2;

    /// <summary>The batch sizes of the sequence rows against ONNX Runtime (batch 1 has its own tables).</summary>
    private static readonly int[] SequenceBatches = [4, 16];

    public static void Run(TextWriter output)
    {
        var total = Stopwatch.StartNew();
        output.WriteLine("# LstmKernels quick report");
        output.WriteLine();
        output.WriteLine(Machine.Describe());
        output.WriteLine();
        output.WriteLine($"Route policy from these caches: {LstmKernels.Internal.RoutePolicy.Machine.Describe()}.");
        output.WriteLine();
        (double peak, string peakText) = FmaPeak.Measure(WarmupSeconds, BudgetSeconds);
        output.WriteLine(peakText);
        output.WriteLine();
        output.WriteLine(
            "Median of Stopwatch batches after warm-up; steps in place (h, c ← step(x, h, c)). Speed-ups are reference/fused " +
            "and unfused/fused. GB/s = packed weight bytes / fused step time (batch 1). Errors: max |fused − reference| over " +
            $"{ErrorSteps} steps of one sequence from a zero state. alloc = bytes allocated per step after warm-up, fused / unfused.");
        output.WriteLine();
        output.WriteLine("| I x H | B | weights | reference | fused | unfused | ref/fused | unfused/fused | GB/s | GFLOP/s | max err h | max err c | alloc B/step |");
        output.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        WarmUp();
        foreach (CellShape shape in CellShape.Standard)
        {
            foreach (int batch in Batches)
            {
                output.WriteLine(Row(new StepModel(shape, batch)));
                output.Flush();
            }
        }

        output.WriteLine();
        PeerTable(output, peak * 1e9);
        output.WriteLine();
        StreamsReport.Run(output);
        output.WriteLine();
        output.WriteLine(Invariant($"Total time {total.Elapsed.TotalSeconds:0.0} s."));
    }

    /// <summary>
    /// Batch 1 against the floors and ONNX Runtime: one step, and per step of a sequence, side by side for each size so
    /// that the ratios come from the same moment of a noisy machine; then batch 4 and 16 sequences.
    /// </summary>
    /// <param name="output">Where the tables go.</param>
    /// <param name="flopsPerSecond">The FMA peak measured at the start of this run (2 flops per multiply-add): the FMA floors are flops / peak.</param>
    private static void PeerTable(TextWriter output, double flopsPerSecond)
    {
        var steps = new List<string>();
        var sequences = new List<string>();
        var batches = new List<string>();
        foreach (CellShape shape in CellShape.Standard)
        {
            double readFloor;
            using (var model = new PeerModel(shape))
            {
                steps.Add(StepRow(model));
                (string row, readFloor) = SequenceRow(model, flopsPerSecond);
                sequences.Add(row);
            }

            foreach (int batch in SequenceBatches)
            {
                using var model = new PeerBatchModel(shape, batch);
                batches.Add(BatchRow(model, readFloor, flopsPerSecond));
            }
        }

        output.WriteLine(
            "Batch 1, one step, against the read floor (the packed weights read once by the fastest of the read loops " +
            $"{string.Join(", ", ReadFloor.Loops)} at that size: `loop`) and ONNX Runtime's LSTM (IoBinding). ×floor = ours / floor; " +
            "ORT/ours > 1 means LstmKernels is faster. bf16, int8: the same step with WeightPrecision.BFloat16 / Int8 weights, and " +
            "its speed-up over our float32 step. 2 thr: StepThreads = 2 (the step split by panels from 512 KiB of weights, per the " +
            "route policy), against ONNX Runtime with intra_op_num_threads = 2.");
        output.WriteLine();
        output.WriteLine("| I x H | floor | loop | LstmKernels | ONNX Runtime | ×floor | ORT/ours | bf16 | ×fp32 | int8 | ×fp32 | 2 thr | ORT 2 thr | ORT/ours 2 thr |");
        output.WriteLine("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        steps.ForEach(output.WriteLine);
        output.WriteLine();
        output.WriteLine(
            $"Batch 1, per step of a {PeerModel.SequenceSteps}-step sequence. read floor: Wₕₕ read once by the fastest read loop (`loop`); " +
            "seq floor: that plus the input projection's 4H·I multiply-adds at the FMA peak measured above " +
            "(a sequence step reads only Wₕₕ, but it still does the projection's FMAs); FMA floor: all of a step's 4H(I+H) FMAs " +
            "at that peak. ×floor = ours / seq floor. pointwise: the step's σ/tanh and cell update alone (Kernels.LstmPointwise " +
            "over [1, 4H], the panel code of the fused step), work no floor counts; ×(fl+pw) = ours / (seq floor + pointwise). " +
            "ORT Δ = max |ORT − ours| in (h, c). 2 thr: " +
            "StepThreads = 2 (every step split by panels from 2 MiB of weights, else the next chunk's projection on the second " +
            "thread, per the route policy) against ONNX Runtime with intra_op_num_threads = 2.");
        output.WriteLine();
        output.WriteLine("| I x H | read floor | loop | seq floor | FMA floor | pointwise | LstmKernels | ONNX Runtime | ×floor | ×(fl+pw) | ORT ×floor | ORT/ours | ORT Δ | 2 thr | ×floor | ORT 2 thr | ORT/ours 2 thr |");
        output.WriteLine("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        sequences.ForEach(output.WriteLine);
        output.WriteLine();
        output.WriteLine(
            $"Batch 4 and 16, per step of a {PeerModel.SequenceSteps}-step sequence, one thread each. read: Wₕₕ read once by the " +
            "fastest read loop (as above); rec FMA, proj FMA: the step's B·4H·H recurrent and B·4H·I projection multiply-adds at the " +
            "FMA peak measured above; floor = max(read, rec FMA) + proj FMA (a step can overlap its Wₕₕ stream with its recurrent FMAs, not go " +
            "below either). pointwise: the step's σ/tanh and cell update alone over [B, 4H] (as above); ×(fl+pw) = ours / (floor + pointwise). " +
            "GFLOP/s = 2·B·4H(I+H) / our step.");
        output.WriteLine();
        output.WriteLine("| I x H | B | read | rec FMA | proj FMA | floor | pointwise | LstmKernels | ×floor | ×(fl+pw) | GFLOP/s | ONNX Runtime | ORT ×floor | ORT/ours | ORT Δ |");
        output.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        batches.ForEach(output.WriteLine);
    }

    private static string StepRow(PeerModel model)
    {
        double floor = StepTimer.Median(static m => m.StepFloor.Run(), model, WarmupSeconds, BudgetSeconds);
        double ours = StepTimer.Median(static m => m.Step(), model, WarmupSeconds, BudgetSeconds);
        double ort = StepTimer.Median(static m => m.OrtStep.Run(), model, WarmupSeconds, BudgetSeconds);
        double bf16 = StepTimer.Median(static m => m.StepBFloat16(), model, WarmupSeconds, BudgetSeconds);
        double int8 = StepTimer.Median(static m => m.StepInt8(), model, WarmupSeconds, BudgetSeconds);
        double twoThreads = StepTimer.Median(static m => m.StepTwoThreads(), model, WarmupSeconds, BudgetSeconds);
        double ortTwoThreads = StepTimer.Median(static m => m.OrtStepTwoThreads.Run(), model, PeerWarmupSeconds, BudgetSeconds);
        return string.Create(
            CultureInfo.InvariantCulture,
            $"| {model.Shape} | {Time(floor)} | {ReadFloor.Loops[model.StepFloor.Loop]} | {Time(ours)} | {Time(ort)} | {ours / floor:0.00} | {ort / ours:0.00} | " +
            $"{Time(bf16)} | {ours / bf16:0.00} | {Time(int8)} | {ours / int8:0.00} | {Time(twoThreads)} | {Time(ortTwoThreads)} | {ortTwoThreads / twoThreads:0.00} |");
    }

    private static (string Row, double ReadFloor) SequenceRow(PeerModel model, double flopsPerSecond)
    {
        const double Steps = PeerModel.SequenceSteps;
        double input = model.Shape.Input, hidden = model.Shape.Hidden;
        double readFloor = StepTimer.Median(static m => m.SequenceReadFloor(), model, WarmupSeconds, BudgetSeconds) / Steps;
        double floor = readFloor + (2 * 4 * hidden * input / flopsPerSecond);
        double fma = 2 * 4 * hidden * (input + hidden) / flopsPerSecond;
        double pointwise = StepTimer.Median(static m => m.Pointwise.RunSequence(), model, WarmupSeconds, BudgetSeconds) / Steps;
        double ours = StepTimer.Median(static m => m.Sequence(), model, WarmupSeconds, BudgetSeconds) / Steps;
        double ort = StepTimer.Median(static m => m.OrtSequence.Run(), model, PeerWarmupSeconds, BudgetSeconds) / Steps;
        double twoThreads = StepTimer.Median(static m => m.SequenceTwoThreads(), model, WarmupSeconds, BudgetSeconds) / Steps;
        double ortTwoThreads = StepTimer.Median(static m => m.OrtSequenceTwoThreads.Run(), model, PeerWarmupSeconds, BudgetSeconds) / Steps;
        double delta = Math.Max(model.OrtStep.MaxDifference, model.OrtSequence.MaxDifference);
        string row = string.Create(
            CultureInfo.InvariantCulture,
            $"| {model.Shape} | {Time(readFloor)} | {ReadFloor.Loops[model.StepFloorRecurrent.Loop]} | {Time(floor)} | {Time(fma)} | {Time(pointwise)} | {Time(ours)} | {Time(ort)} | " +
            $"{ours / floor:0.00} | {ours / (floor + pointwise):0.00} | {ort / floor:0.00} | {ort / ours:0.00} | {delta:0.0e+0} | {Time(twoThreads)} | {twoThreads / floor:0.00} | " +
            $"{Time(ortTwoThreads)} | {ortTwoThreads / twoThreads:0.00} |");
        return (row, readFloor);
    }

    private static string BatchRow(PeerBatchModel model, double readFloor, double flopsPerSecond)
    {
        const double Steps = PeerModel.SequenceSteps;
        double batch = model.Batch, input = model.Shape.Input, hidden = model.Shape.Hidden;
        double recurrent = 2 * batch * 4 * hidden * hidden / flopsPerSecond;
        double projection = 2 * batch * 4 * hidden * input / flopsPerSecond;
        double floor = Math.Max(readFloor, recurrent) + projection;
        double pointwise = StepTimer.Median(static m => m.Pointwise.RunSequence(), model, PeerWarmupSeconds, BatchBudgetSeconds) / Steps;
        double ours = StepTimer.Median(static m => m.Sequence(), model, PeerWarmupSeconds, BatchBudgetSeconds) / Steps;
        double ort = StepTimer.Median(static m => m.OrtSequence.Run(), model, PeerWarmupSeconds, BatchBudgetSeconds) / Steps;
        return string.Create(
            CultureInfo.InvariantCulture,
            $"| {model.Shape} | {model.Batch} | {Time(readFloor)} | {Time(recurrent)} | {Time(projection)} | {Time(floor)} | {Time(pointwise)} | {Time(ours)} | {ours / floor:0.00} | {ours / (floor + pointwise):0.00} | " +
            $"{2.0 * model.Fma.Fmas / ours / 1e9:0.0} | {Time(ort)} | {ort / floor:0.00} | {ort / ours:0.00} | {model.OrtSequence.MaxDifference:0.0e+0} |");
    }

    /// <summary>Gets the fast routes' shared generic code to tier 1 before the first row is timed.</summary>
    private static void WarmUp()
    {
        foreach (int batch in Batches)
        {
            var model = new StepModel(CellShape.Standard[0], batch);
            StepTimer.Median(model.Fused, model.NewState(), WarmupSeconds, 0);
            StepTimer.Median(model.Unfused, model.NewState(), WarmupSeconds, 0);
        }
    }

    private static string Row(StepModel model)
    {
        // The error check runs first: it is also the reference's first (tier-0 / OSR) calls.
        (double errorH, double errorC) = MaxError(model);
        double reference = StepTimer.Median(model.Reference, model.NewState(), ReferenceWarmupSeconds, ReferenceBudgetSeconds);
        StepState state = model.NewState();
        double fused = StepTimer.Median(model.Fused, state, WarmupSeconds, BudgetSeconds);
        double allocated = StepTimer.AllocatedPerCall(model.Fused, state, fused, AllocationSeconds);
        StepState unfusedState = model.NewState();
        double unfused = StepTimer.Median(model.Unfused, unfusedState, WarmupSeconds, BudgetSeconds);
        double allocatedUnfused = StepTimer.AllocatedPerCall(model.Unfused, unfusedState, unfused, AllocationSeconds);
        long bytes = model.Cell.PackedBytes;
        string bandwidth = model.Batch == 1 ? Invariant($"{bytes / fused / 1e9:0.0}") : "–";
        return string.Create(
            CultureInfo.InvariantCulture,
            $"| {model.Shape} | {model.Batch} | {Bytes(bytes)} | {Time(reference)} | {Time(fused)} | {Time(unfused)} | " +
            $"{reference / fused:0}× | {unfused / fused:0.00}× | {bandwidth} | {model.Flops / fused / 1e9:0.0} | " +
            $"{errorH:0.0e+0} | {errorC:0.0e+0} | {allocated:0.###} / {allocatedUnfused:0.###} |");
    }

    /// <summary>Runs the fused cell and the reference side by side over one sequence; each keeps its own state.</summary>
    private static (double H, double C) MaxError(StepModel model)
    {
        StepState fused = model.NewState();
        StepState reference = model.NewState();
        double h = 0, c = 0;
        for (int t = 0; t < ErrorSteps; t++)
        {
            Data.Fill(fused.X, 1f, seed: 100 + t);
            fused.X.CopyTo(reference.X, 0);
            model.Fused(fused);
            model.Reference(reference);
            h = Math.Max(h, MaxAbsDifference(fused.H, reference.H));
            c = Math.Max(c, MaxAbsDifference(fused.C, reference.C));
        }

        return (h, c);
    }

    private static double MaxAbsDifference(float[] a, float[] b)
    {
        double max = 0;
        for (int k = 0; k < a.Length; k++)
        {
            max = Math.Max(max, Math.Abs((double)a[k] - b[k]));
        }

        return max;
    }

    private static string Time(double seconds) =>
        seconds < 1e-6 ? Invariant($"{Digits(seconds * 1e9)} ns") :
        seconds < 1e-3 ? Invariant($"{Digits(seconds * 1e6)} µs") :
        seconds < 1 ? Invariant($"{Digits(seconds * 1e3)} ms") :
        Invariant($"{Digits(seconds)} s");

    /// <summary>Three significant digits.</summary>
    private static string Digits(double value) =>
        value.ToString(value < 10 ? "0.00" : value < 100 ? "0.0" : "0", CultureInfo.InvariantCulture);

    private static string Bytes(long bytes) =>
        bytes < 1 << 20 ? Invariant($"{bytes / 1024.0:0} KiB") : Invariant($"{bytes / (1024.0 * 1024):0.0} MiB");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
