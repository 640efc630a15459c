using System.Globalization;
using ScottPlot;
using ScottPlot.TickGenerators;

namespace LstmKernels.Benchmarks;

/// <summary>
/// Draws the <see cref="ChartReport"/> rows with ScottPlot: time per step against hidden size on log-log axes, one
/// line with markers per contender, the read floor as a dashed line.
/// </summary>
/// <remarks>
/// ScottPlot's axes are linear, so the chart plots log10 of both values and labels the ticks with the values
/// themselves (decades and 2×/5× on the time axis, the measured sizes on the hidden-size axis).
/// </remarks>
internal static class ChartPlot
{
    private const int Width = 1400;
    private const int Height = 900;

    public static void Save(IReadOnlyList<ChartRow> rows, string machine, string path)
    {
        var plot = new Plot();
        double[] xs = [.. rows.Select(r => Math.Log10(r.Shape.Hidden))];

        // Slow to fast, so the legend lists the contenders in about the order of the lines from top to bottom.
        Series(plot, xs, rows, r => r.Naive, "naive (ReferenceLstmCell)", Color.FromHex("#7f7f7f"), MarkerShape.FilledCircle);
        Series(plot, xs, rows, r => r.TensorPrimitives, "TensorPrimitives-simple (Dot per row + Sigmoid/Tanh)", Color.FromHex("#9467bd"), MarkerShape.FilledDiamond);
        Series(plot, xs, rows, r => r.Ort, "ONNX Runtime LSTM (1 thread, IoBinding)", Color.FromHex("#ff7f0e"), MarkerShape.FilledSquare);
        Series(plot, xs, rows, r => r.Fp32, "LstmKernels fp32", Color.FromHex("#1f77b4"), MarkerShape.FilledCircle);
        Series(plot, xs, rows, r => r.BFloat16, "LstmKernels bf16 weights", Color.FromHex("#2ca02c"), MarkerShape.FilledTriangleUp);
        Series(plot, xs, rows, r => r.Int8, "LstmKernels int8 weights", Color.FromHex("#d62728"), MarkerShape.FilledTriangleDown);
        var floor = Series(plot, xs, rows, r => r.Floor, "read floor (fp32 weights read once)", Colors.Black, MarkerShape.None);
        floor.LinePattern = LinePattern.Dashed;
        floor.LineWidth = 2.5f;

        double yMin = Math.Floor(Math.Log10(rows.Min(Lowest) * 1e6) - 0.1);
        double yMax = Math.Ceiling(Math.Log10(rows.Max(r => r.Naive) * 1e6) + 0.1);
        plot.Axes.SetLimits(xs[0] - 0.08, xs[^1] + 0.08, yMin, yMax);
        plot.Axes.Bottom.TickGenerator = HiddenTicks(rows);
        plot.Axes.Left.TickGenerator = TimeTicks(yMin, yMax);

        plot.Font.Set(SansFont());
        plot.Title($"One LSTM step at batch 1: time per step against hidden size (log-log)\n{machine}");
        plot.Axes.Title.Label.FontSize = 18;
        plot.XLabel("hidden size H (input size I = H; I = 32 at H = 64) and fp32 weight bytes");
        plot.YLabel("time per step (lower is better)");
        plot.Axes.Bottom.Label.FontSize = 18;
        plot.Axes.Left.Label.FontSize = 18;
        plot.Axes.Bottom.TickLabelStyle.FontSize = 15;
        plot.Axes.Left.TickLabelStyle.FontSize = 15;

        plot.Grid.MajorLineColor = Colors.Black.WithAlpha(0.15);
        plot.Grid.MinorLineColor = Colors.Black.WithAlpha(0.05);
        plot.Grid.MinorLineWidth = 1;

        var legend = plot.ShowLegend(Alignment.LowerRight);
        legend.FontSize = 15;
        legend.Padding = new PixelPadding(12, 12, 10, 14); // left, right, bottom, top: room above the first entry
        legend.InterItemPadding = new PixelPadding(4);
        legend.SymbolWidth = 44; // long enough to show the floor's dashes

        string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        plot.SavePng(path, Width, Height);
    }

    private static ScottPlot.Plottables.Scatter Series(
        Plot plot, double[] xs, IReadOnlyList<ChartRow> rows, Func<ChartRow, double> seconds, string label, Color color, MarkerShape marker)
    {
        double[] ys = [.. rows.Select(r => Math.Log10(seconds(r) * 1e6))];
        var scatter = plot.Add.Scatter(xs, ys, color);
        scatter.LegendText = label;
        scatter.LineWidth = 2.5f;
        scatter.MarkerShape = marker;
        scatter.MarkerSize = 11;
        return scatter;
    }

    /// <summary>A round time in µs as "500 ns", "2 µs", "100 ms".</summary>
    private static string TimeLabel(double micros)
    {
        (double value, string unit) = micros < 1 ? (micros * 1e3, "ns") : micros < 1e3 ? (micros, "µs") : micros < 1e6 ? (micros / 1e3, "ms") : (micros / 1e6, "s");
        return string.Create(CultureInfo.InvariantCulture, $"{Math.Round(value):0} {unit}");
    }

    /// <summary>A sans-serif font that is installed (ScottPlot's default falls back to a serif one on a bare Linux).</summary>
    private static string SansFont() =>
        SkiaSharp.SKFontManager.Default.GetFontFamilies().Contains("DejaVu Sans") ? "DejaVu Sans" : Fonts.Sans;

    private static double Lowest(ChartRow r) => Math.Min(Math.Min(r.Floor, r.Fp32), Math.Min(r.BFloat16, r.Int8));

    private static NumericManual HiddenTicks(IReadOnlyList<ChartRow> rows)
    {
        var ticks = new NumericManual();
        foreach (ChartRow row in rows)
        {
            ticks.AddMajor(Math.Log10(row.Shape.Hidden), $"{row.Shape}\n{ChartReport.Bytes(row.WeightBytes)}");
        }

        return ticks;
    }

    /// <summary>Decades labelled as times, with 2× and 5× labelled too and the other multiples as minor ticks.</summary>
    private static NumericManual TimeTicks(double minLog10Micros, double maxLog10Micros)
    {
        var ticks = new NumericManual();
        for (int decade = (int)minLog10Micros; decade <= (int)maxLog10Micros; decade++)
        {
            for (int m = 1; m <= 9; m++)
            {
                double micros = m * Math.Pow(10, decade);
                double position = Math.Log10(micros);
                if (position < minLog10Micros - 1e-9 || position > maxLog10Micros + 1e-9)
                {
                    continue;
                }

                if (m is 1 or 2 or 5)
                {
                    ticks.AddMajor(position, TimeLabel(micros));
                }
                else
                {
                    ticks.AddMinor(position);
                }
            }
        }

        return ticks;
    }
}
