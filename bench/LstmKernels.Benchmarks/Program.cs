using BenchmarkDotNet.Running;
using LstmKernels.Benchmarks;

// No arguments (or --quick): the sub-minute Stopwatch report of the cell step. Anything else is a
// BenchmarkDotNet command line, e.g. --filter '*CellStep*' or --list flat.
if (args.Length == 0 || (args.Length == 1 && args[0] == "--quick"))
{
    QuickReport.Run(Console.Out);
}
else
{
    BenchmarkSwitcher.FromAssembly(typeof(QuickReport).Assembly).Run(args);
}
