using EasyIm.Contracts.Messaging;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Friends.Data;
using EasyIm.Hosting.Outbox;
using MassTransit;
using MassTransit.Testing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace EasyIm.UnitTests.Friends;

/// <summary>
/// Friends' events and pushes commit with the change that causes them (the outbox): a broker fault after the
/// commit delays them, never loses them, and the request is answered as done, not retried into a 404.
/// </summary>
public sealed class OutboxTests
{
    private static readonly OutboxOptions Options = new() { ClaimSeconds = 10, RelayBatch = 20 };

    private static OutboxRelay<FriendsDbContext> Relay(FriendsHarness friends, TimeProvider time) =>
        new(friends.Services, Options, time, NullLogger<OutboxRelay<FriendsDbContext>>.Instance);

    private static Task<int> StoredAsync(FriendsHarness friends) => friends.WithDbAsync(db => db.Set<OutboxMessage>().CountAsync());

    private static async Task BefriendAsync(FriendsHarness friends, long a, long b)
    {
        var sent = await friends.OkAsync<SendFriendRequest, FriendRequestSent>(new SendFriendRequest(a, b, null));
        await friends.OkAsync<AcceptFriendRequest, FriendRequestAccepted>(new AcceptFriendRequest(b, sent.RequestId, null));
    }

    private static UserPush Marked(int i) => new(1000 + i, new WireMessage { Content = "outbox-" + i });

    [Fact]
    public async Task A_removal_whose_events_fail_to_publish_is_answered_done_and_the_relay_publishes_them_once_their_claim_runs_out()
    {
        var failing = false;
        await using var friends = await FriendsHarness.StartAsync(failPublish: m => failing && m is FriendshipRemoved or PushToUsers or AppendStreamUpdates);
        var (a, b) = (await friends.NewUserAsync(), await friends.NewUserAsync());
        await BefriendAsync(friends, a, b);
        failing = true;

        var answer = await friends.OkAsync<RemoveFriend, FriendRemoved>(new RemoveFriend(a, b));

        Assert.Equal((a, b), (answer.UserId, answer.FriendId));
        Assert.Equal(0, await friends.WithDbAsync(db => db.Friendships.CountAsync(f => f.UserId == a || f.UserId == b)));
        Assert.Equal(2, await StoredAsync(friends));
        Assert.False(await friends.Bus.Published.Any<FriendshipRemoved>(p => p.Context.Message.UserId == a));

        // Within the claim the relay leaves them to their request; after it, it publishes them, once.
        failing = false;
        var storedAt = await friends.WithDbAsync(db => db.Set<OutboxMessage>().MaxAsync(m => m.CreatedAtMs));
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(storedAt));
        var relay = Relay(friends, time);
        Assert.Equal(0, await relay.RelayAsync(CancellationToken.None));
        time.Advance(TimeSpan.FromSeconds(Options.ClaimSeconds + 1));
        Assert.Equal(2, await relay.RelayAsync(CancellationToken.None));
        Assert.Equal(0, await relay.RelayAsync(CancellationToken.None));

        Assert.Equal(0, await StoredAsync(friends));
        Assert.True(await friends.Bus.Published.Any<FriendshipRemoved>(p => p.Context.Message.UserId == a && p.Context.Message.FriendId == b));
        var pushes = friends.Announced().SelectMany(p => p.Pushes).ToList();
        Assert.Contains(pushes, p => p.UserId == a && p.Message.Text().Contains("FRIEND_REMOVE"));
        Assert.Contains(pushes, p => p.UserId == b && p.Message.Text().Contains("FRIEND_REMOVE"));
    }

    [Fact]
    public async Task Events_published_after_their_commit_leave_nothing_for_the_relay()
    {
        await using var friends = await FriendsHarness.StartAsync();
        var (a, b) = (await friends.NewUserAsync(), await friends.NewUserAsync());
        await BefriendAsync(friends, a, b);

        await friends.OkAsync<RemoveFriend, FriendRemoved>(new RemoveFriend(a, b));

        Assert.True(await friends.Bus.Published.Any<FriendshipRemoved>(p => p.Context.Message.UserId == a));
        Assert.Equal(0, await StoredAsync(friends));
    }

    [Fact]
    public async Task Two_relays_racing_publish_each_stored_message_once_in_order()
    {
        await using var friends = await FriendsHarness.StartAsync();
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        // Fifty messages whose requests died after the commit: stored, claimed by nobody any more.
        await friends.WithDbAsync(async db =>
        {
            for (var i = 0; i < 50; i++)
            {
                var outbox = new Outbox<FriendsDbContext>(db, Options, time, NullLogger<Outbox<FriendsDbContext>>.Instance);
                outbox.Add(new PushToUsers([Marked(i)]));
            }
            return await db.SaveChangesAsync();
        });
        time.Advance(TimeSpan.FromSeconds(Options.ClaimSeconds + 1));

        var (one, two) = (Relay(friends, time), Relay(friends, time));
        for (var round = 0; round < 10 && await StoredAsync(friends) > 0; round++)
            await Task.WhenAll(one.RelayAsync(CancellationToken.None), two.RelayAsync(CancellationToken.None));

        Assert.Equal(0, await StoredAsync(friends));
        var published = friends.Bus.Published.Select<PushToUsers>().SelectMany(p => p.Context.Message.Pushes)
            .Select(p => p.Message.Text()).Where(c => c.StartsWith("outbox-", StringComparison.Ordinal)).ToList();
        Assert.Equal(Enumerable.Range(0, 50).Select(i => "outbox-" + i).Order(), published.Order());
    }
}
