namespace LstmKernels.Benchmarks;

/// <summary>An (input, hidden) size of a cell; prints as <c>IxH</c> in tables.</summary>
/// <remarks>Comparable so that BenchmarkDotNet sorts the rows by size rather than by the text of <see cref="ToString"/>.</remarks>
public readonly record struct CellShape(int Input, int Hidden) : IComparable<CellShape>, IComparable
{
    /// <summary>The sizes of DESIGN.md: from a small cell that lives in L1/L2 to 32 MiB of weights that live in DRAM.</summary>
    public static IReadOnlyList<CellShape> Standard { get; } =
    [
        new(32, 64),
        new(128, 128),
        new(256, 256),
        new(512, 512),
        new(1024, 1024),
    ];

    public static bool operator <(CellShape left, CellShape right) => left.CompareTo(right) < 0;

    public static bool operator <=(CellShape left, CellShape right) => left.CompareTo(right) <= 0;

    public static bool operator >(CellShape left, CellShape right) => left.CompareTo(right) > 0;

    public static bool operator >=(CellShape left, CellShape right) => left.CompareTo(right) >= 0;

    public int CompareTo(CellShape other)
    {
        int byHidden = Hidden.CompareTo(other.Hidden);
        return byHidden != 0 ? byHidden : Input.CompareTo(other.Input);
    }

    public int CompareTo(object? obj) => obj is CellShape other ? CompareTo(other) : 1;

    public override string ToString() => $"{Input}x{Hidden}";
}
