using System.Globalization;

namespace EasyIm.LoadTest.Reporting;

/// <summary>A Markdown table, columns padded so it reads in a terminal too; pastes as is into docs/performance.md.</summary>
public sealed class MarkdownTable(params string[] headers)
{
    private readonly List<string[]> _rows = [];

    /// <summary>The columns (by index) that hold text, left-aligned; the others hold figures, right-aligned.</summary>
    public IReadOnlyCollection<int> TextColumns { get; init; } = [0];

    public void Add(params string[] cells)
    {
        if (cells.Length != headers.Length)
            throw new ArgumentException($"{cells.Length} cells for {headers.Length} columns");
        _rows.Add(cells);
    }

    public void Write(TextWriter output)
    {
        var widths = headers.Select((h, i) => Math.Max(3, _rows.Select(r => r[i].Length).Append(h.Length).Max())).ToArray();
        output.WriteLine("| " + string.Join(" | ", headers.Select((h, i) => h.PadRight(widths[i]))) + " |");
        output.WriteLine("|" + string.Join("|", widths.Select((w, i) => TextColumns.Contains(i) ? new string('-', w + 2) : new string('-', w + 1) + ":")) + "|");
        foreach (var row in _rows)
            output.WriteLine("| " + string.Join(" | ", row.Select((c, i) => TextColumns.Contains(i) ? c.PadRight(widths[i]) : c.PadLeft(widths[i]))) + " |");
    }
}

/// <summary>How figures are written in reports: invariant culture, thousands separated.</summary>
public static class Figures
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static string Count(long n) => n.ToString("N0", Invariant);

    public static string Rate(double perSecond) => perSecond.ToString("N0", Invariant);

    public static string Number(double value, int decimals) => value.ToString("N" + decimals, Invariant);

    /// <summary>Microseconds as milliseconds: two decimals under 10 ms, one above.</summary>
    public static string Ms(long micros) => (micros / 1000.0).ToString(micros < 10_000 ? "N2" : "N1", Invariant);

    /// <summary><c>×a/b</c>, or empty when there is nothing to divide by.</summary>
    public static string Ratio(double a, double b) =>
        b > 0 && !double.IsNaN(a) ? "×" + (a / b).ToString(a / b < 10 ? "N2" : "N1", Invariant) : "";

    public static string Seconds(TimeSpan span) => span.TotalSeconds.ToString("N1", Invariant);
}
