using EasyIm.LoadTest.Abuse;
using EasyIm.LoadTest.Scenarios;
using static EasyIm.LoadTest.Reporting.Figures;

namespace EasyIm.LoadTest.Reporting;

/// <summary>The abuse scenario's report: the bystanders without and with the attacks, then what each attacker sent and got.</summary>
public static class AbuseReport
{
    public static void Write(TextWriter output, FlowResult quiet, FlowResult attacked, IReadOnlyList<Attack> attacks)
    {
        FlowReport.WriteComparison(output, "bystanders", quiet, attacked, "with ÷ without");
        output.WriteLine("  (server CPU with the attacks counts the attackers' work too.)");
        output.WriteLine();
        AttackTable(attacks).Write(output);
        output.WriteLine();
        foreach (var attack in attacks)
            output.WriteLine($"- {AttackKinds.Name(attack.Kind)}: {string.Join("; ", attack.Tally.Notes.Prepend(attack.Description))}.");
    }

    /// <summary>A row per attack: what it sent, what it meant to send and did not, and every kind of answer it got.</summary>
    public static MarkdownTable AttackTable(IReadOnlyList<Attack> attacks)
    {
        var table = new MarkdownTable("attack", "sent", "not sent", "what it got") { TextColumns = [0, 3] };
        foreach (var attack in attacks)
        {
            var tally = attack.Tally;
            var got = tally.Summary();
            table.Add(AttackKinds.Name(attack.Kind), $"{Count(tally.Sent)} {attack.Unit}", Count(tally.NotSent),
                Cell(got.Count == 0 ? "nothing" : string.Join("; ", got)));
        }
        return table;
    }

    /// <summary>Text safe in a Markdown table cell: one line, no bare column separator.</summary>
    public static string Cell(string text) => text.ReplaceLineEndings(" ").Replace("|", "\\|", StringComparison.Ordinal);
}
