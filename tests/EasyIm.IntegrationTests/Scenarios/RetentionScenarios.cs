using EasyIm.IntegrationTests.Abuse;
using EasyIm.IntegrationTests.Shapes;
using EasyIm.UnitTests.Messaging;
using Microsoft.EntityFrameworkCore;

namespace EasyIm.IntegrationTests.Scenarios;

/// <summary>
/// Retention deleting a large backlog on a running server, batch settings as shipped: a pair of friends
/// chats meanwhile and every message is acked and delivered (Bystanders). On a server of its own (its
/// sweep every second would delete nothing of other tests', but its backlog is its own).
/// </summary>
public abstract class RetentionScenarios(EasyImShape shape)
{
    public const int RetentionDays = 30;
    private const int Backlog = 50_000;

    public static void Apply(Dictionary<string, string?> settings)
    {
        settings["Messaging:Retention:DirectDays"] = RetentionDays.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["Messaging:Retention:IntervalSeconds"] = "1";
    }

    private Task<int> BacklogLeftAsync() =>
        shape.OnMessagingStoreAsync(db => db.Messages.CountAsync(m => m.ConversationId.StartsWith("seed_")));

    [SkippableFact]
    public async Task Chat_is_not_stalled_while_retention_deletes_a_large_backlog()
    {
        shape.RequireAvailable();
        // Comes of age a few seconds from now, while the bystanders chat: the sweep (every second) then deletes it in batches.
        var dueIn = TimeSpan.FromSeconds(4);
        await shape.OnMessagingStoreAsync(async db =>
        {
            await RetentionBacklog.SeedAsync(db, Backlog, DateTimeOffset.UtcNow.AddDays(-RetentionDays) + dueIn);
            return 0;
        });
        Assert.Equal(Backlog, await BacklogLeftAsync());

        var by = await Bystanders.StartAsync(shape, messages: 800);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var sawPartial = false;
        int left;
        while ((left = await BacklogLeftAsync()) > 0)
        {
            sawPartial |= left < Backlog;
            await Task.Delay(100, deadline.Token); // polls the store's count until the sweep is done, within the deadline
        }
        var ackedWhenDone = by.Acked;
        await by.VerifyAsync();

        Assert.True(sawPartial, "retention deleted the backlog before it was seen in progress");
        Assert.True(ackedWhenDone > 5, $"the bystanders' chat did not progress while retention ran ({ackedWhenDone} acked)");
        var history = await shape.GetAsync($"/api/chat/history?conversation_id={ShapeClients.Conversation(by.Sender, by.Receiver)}&limit=1", by.Sender.AccessToken);
        Assert.Equal(1, history.Data.GetProperty("retained_from_seq").GetInt64());
    }
}

public sealed class RetentionStandaloneShape : StandaloneShape
{
    public override string Name => "standalone with retention";

    protected override void Configure(Dictionary<string, string?> settings) => RetentionScenarios.Apply(settings);
}

public sealed class RetentionDistributedShape : DistributedShape
{
    public override string Name => "distributed with retention";

    protected override void Configure(Dictionary<string, string?> settings) => RetentionScenarios.Apply(settings);
}

[CollectionDefinition(Name)]
public sealed class RetentionStandaloneCollection : ICollectionFixture<RetentionStandaloneShape>
{
    public const string Name = "standalone, retention";
}

[CollectionDefinition(Name)]
public sealed class RetentionDistributedCollection : ICollectionFixture<RetentionDistributedShape>
{
    public const string Name = "distributed, retention";
}

[Collection(RetentionStandaloneCollection.Name)]
public sealed class StandaloneRetentionScenarios(RetentionStandaloneShape shape) : RetentionScenarios(shape);

[Collection(RetentionDistributedCollection.Name)]
public sealed class DistributedRetentionScenarios(RetentionDistributedShape shape) : RetentionScenarios(shape);
