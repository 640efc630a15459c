using System.Diagnostics;
using System.Globalization;

namespace LstmKernels.Benchmarks;

/// <summary>
/// The no-argument run: every standard size at batch 1 and 16, the three step routes timed with Stopwatch, the
/// fused step's error against the reference and its allocations, as one Markdown table in well under a minute; then the
/// peer table, and the streams table (<see cref="StreamsReport"/>, about another minute).
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

    public static void Run(TextWriter output)
    {
        var total = Stopwatch.StartNew();
        output.WriteLine("# LstmKernels quick report");
        output.WriteLine();
        output.WriteLine(Machine.Describe());
        output.WriteLine();
        output.WriteLine(FmaPeak.Describe(WarmupSeconds, BudgetSeconds));
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
        PeerTable(output);
        output.WriteLine();
        StreamsReport.Run(output);
        output.WriteLine();
        output.WriteLine(Invariant($"Total time {total.Elapsed.TotalSeconds:0.0} s."));
    }

    /// <summary>
    /// Batch 1 against the memory floor and ONNX Runtime: one step, and per step of a sequence, side by side for
    /// each size so that the ratios come from the same moment of a noisy machine.
    /// </summary>
    private static void PeerTable(TextWriter output)
    {
        output.WriteLine(
            $"Batch 1 against the read floor (the packed weights read once by an 8-accumulator vector loop; for a sequence step, " +
            $"only the recurrent half) and ONNX Runtime's LSTM ({PeerModel.SequenceSteps}-step sequence for the per-step columns; " +
            "one thread, IoBinding). ×floor = ours / floor; ORT/ours > 1 means LstmKernels is faster. ORT Δ = max |ORT − ours| in (h, c). " +
            "bf16 and int8: the same step with WeightPrecision.BFloat16 / Int8 weights, and its speed-up over our float32 step; " +
            "2 thr: the float32 step with StepThreads = 2, and its speed-up; seq 2 thr: the sequence with StepThreads = 2 " +
            "(every step split by panels from 2 MiB of weights, else the next chunk's projection on the second thread), " +
            "per step, and its ratio to the sequence floor. FMA floor: the step's 4H(I+H) multiply-adds as register-only vector FMAs " +
            "at this core's peak (the same for a single and a sequence step); where it exceeds the seq floor, the sequence step is " +
            "bound by the FMA units, not by memory, and FMA/seq floor is the least ×floor one thread can reach.");
        output.WriteLine();
        output.WriteLine("| I x H | floor | LstmKernels | ONNX Runtime | ×floor | ORT/ours | seq floor | FMA floor | FMA/seq floor | seq LstmKernels | seq ONNX Runtime | ×floor | ORT/ours | ORT Δ | bf16 | ×fp32 | int8 | ×fp32 | 2 thr | ×fp32 | seq 2 thr | ×floor |");
        output.WriteLine("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (CellShape shape in CellShape.Standard)
        {
            using var model = new PeerModel(shape);
            double floor = StepTimer.Median(static m => m.StepFloor.Run(), model, WarmupSeconds, BudgetSeconds);
            double ours = StepTimer.Median(static m => m.Step(), model, WarmupSeconds, BudgetSeconds);
            double ort = StepTimer.Median(static m => m.OrtStep.Run(), model, WarmupSeconds, BudgetSeconds);
            const double Steps = PeerModel.SequenceSteps;
            double seqFloor = StepTimer.Median(static m => m.SequenceFloor(), model, WarmupSeconds, BudgetSeconds) / Steps;
            double fma = StepTimer.Median(static m => m.StepFma.Run(), model, WarmupSeconds, BudgetSeconds);
            double seqOurs = StepTimer.Median(static m => m.Sequence(), model, WarmupSeconds, BudgetSeconds) / Steps;
            double seqOrt = StepTimer.Median(static m => m.OrtSequence.Run(), model, WarmupSeconds, BudgetSeconds) / Steps;
            double delta = Math.Max(model.OrtStep.MaxDifference, model.OrtSequence.MaxDifference);
            double bf16 = StepTimer.Median(static m => m.StepBFloat16(), model, WarmupSeconds, BudgetSeconds);
            double int8 = StepTimer.Median(static m => m.StepInt8(), model, WarmupSeconds, BudgetSeconds);
            double twoThreads = StepTimer.Median(static m => m.StepTwoThreads(), model, WarmupSeconds, BudgetSeconds);
            double seqTwoThreads = StepTimer.Median(static m => m.SequenceTwoThreads(), model, WarmupSeconds, BudgetSeconds) / Steps;
            output.WriteLine(string.Create(
                CultureInfo.InvariantCulture,
                $"| {shape} | {Time(floor)} | {Time(ours)} | {Time(ort)} | {ours / floor:0.00} | {ort / ours:0.00} | " +
                $"{Time(seqFloor)} | {Time(fma)} | {fma / seqFloor:0.00} | {Time(seqOurs)} | {Time(seqOrt)} | {seqOurs / seqFloor:0.00} | {seqOrt / seqOurs:0.00} | {delta:0.0e+0} | " +
                $"{Time(bf16)} | {ours / bf16:0.00} | {Time(int8)} | {ours / int8:0.00} | {Time(twoThreads)} | {ours / twoThreads:0.00} | " +
                $"{Time(seqTwoThreads)} | {seqTwoThreads / seqFloor:0.00} |"));
            output.Flush();
        }
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
