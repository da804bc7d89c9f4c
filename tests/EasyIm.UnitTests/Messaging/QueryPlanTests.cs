using Xunit.Abstractions;

namespace EasyIm.UnitTests.Messaging;

/// <summary>The hot queries' plans on a real SQLite file (HotQueryPlans); PostgreSQL's are in the integration tests.</summary>
public sealed class SqliteQueryPlanTests(ITestOutputHelper output)
{
    [Fact]
    public async Task No_hot_query_scans_all_of_messages_on_SQLite()
    {
        await using var host = await MessagingHost.StartAsync(HotQueryPlans.HostSettings);

        var plans = await HotQueryPlans.RunAsync(host, host.DataDirectory);

        foreach (var plan in plans)
            output.WriteLine($"{plan.Path}:\n{plan.Sql}\n-- plan:\n{plan.Text}");
        var scans = plans.Where(HotQueryPlans.ScansMessages).ToList();
        Assert.True(scans.Count == 0, string.Join("\n\n", scans.Select(p => $"{p.Path}:\n{p.Sql}\n-- plan:\n{p.Text}")));
        Assert.Contains(plans, p => p.Text.Contains("IX_messages_chat_type_sent_at", StringComparison.Ordinal));
        host.AssertNoFaults();
    }

    [Theory]
    [InlineData("SCAN m", true)]
    [InlineData("SCAN m USING COVERING INDEX IX_messages_chat_type_sent_at", true)]
    [InlineData("SCAN messages", true)]
    [InlineData("  ->  Seq Scan on messages m  (cost=10000000000.00..10000000001.10 rows=1 width=8)", true)]
    [InlineData("SEARCH m USING INDEX IX_messages_conversation_id_conversation_seq (conversation_id=?)", false)]
    [InlineData("SCAN c", false)]
    [InlineData("Index Scan using \"IX_messages_chat_type_sent_at\" on messages m", false)]
    public void A_full_scan_of_messages_is_recognised_in_either_database_s_plan(string line, bool scans)
    {
        var plan = new HotQueryPlans.Plan("p", "SELECT 1 FROM \"messages\" AS \"m\" JOIN \"conversations\" AS \"c\" ON 1", line + "\n");

        Assert.Equal(scans, HotQueryPlans.ScansMessages(plan));
    }
}
