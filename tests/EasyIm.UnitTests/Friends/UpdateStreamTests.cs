using EasyIm.Contracts;
using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Friends;
using EasyIm.Friends.Data;
using EasyIm.Friends.Events;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using System.Text.Json;

namespace EasyIm.UnitTests.Friends;

/// <summary>Each user's update stream: positions 1, 2, 3 ... without gaps or repeats whatever races, pages after a position, pruning.</summary>
public sealed class UpdateStreamTests
{
    private static long Position(WireMessage update) =>
        JsonDocument.Parse(update.Text()).RootElement.GetProperty("data").GetProperty("position").GetInt64();

    [Fact]
    public async Task Invitations_racing_to_one_user_get_every_position_once_and_their_pushes_carry_them()
    {
        await using var friends = await FriendsHarness.StartAsync();
        var target = await friends.NewUserAsync();
        var inviters = new List<long>();
        for (var i = 0; i < 12; i++)
            inviters.Add(await friends.NewUserAsync());

        await Task.WhenAll(inviters.Select(from => friends.OkAsync<SendFriendRequest, FriendRequestSent>(new SendFriendRequest(from, target, null))));
        var page = await friends.OkAsync<GetUserUpdates, UserUpdatesPage>(new GetUserUpdates(target, 0, 100));

        Assert.Equal(Enumerable.Range(1, 12).Select(i => (long)i), page.Updates.Select(Position));
        Assert.Equal(inviters.Order(), page.Updates.Select(u => u.FromUserId).Order());
        Assert.Equal((12L, 1L), (page.Last, page.Oldest));
        var pushed = friends.Published<PushToUsers>().SelectMany(p => p.Pushes).Where(p => p.UserId == target).Select(p => Position(p.Message));
        Assert.Equal(Enumerable.Range(1, 12).Select(i => (long)i), pushed.Order());
        await friends.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task A_page_after_a_position_holds_exactly_the_rest_and_bad_bounds_are_refused()
    {
        await using var friends = await FriendsHarness.StartAsync();
        var target = await friends.NewUserAsync();
        for (var i = 0; i < 5; i++)
            await friends.OkAsync<SendFriendRequest, FriendRequestSent>(new SendFriendRequest(await friends.NewUserAsync(), target, null));

        var rest = await friends.OkAsync<GetUserUpdates, UserUpdatesPage>(new GetUserUpdates(target, 3, 100));
        var two = await friends.OkAsync<GetUserUpdates, UserUpdatesPage>(new GetUserUpdates(target, 0, 2));
        var none = await friends.OkAsync<GetUserUpdates, UserUpdatesPage>(new GetUserUpdates(target, 5, 100));
        var stranger = await friends.OkAsync<GetUserUpdates, UserUpdatesPage>(new GetUserUpdates(await friends.NewUserAsync(), 0, 100));

        Assert.Equal([4L, 5L], rest.Updates.Select(Position));
        Assert.Equal((5L, 1L), (rest.Last, rest.Oldest));
        Assert.Equal([1L, 2L], two.Updates.Select(Position));
        Assert.Equal((0, 5L), (none.Updates.Count, none.Last));
        Assert.Equal((0, 0L, 0L), (stranger.Updates.Count, stranger.Last, stranger.Oldest));
        Assert.Equal(400, (await friends.AskAsync<GetUserUpdates, UserUpdatesPage>(new GetUserUpdates(target, -1, 10))).Rejected?.Code);
        Assert.Equal(400, (await friends.AskAsync<GetUserUpdates, UserUpdatesPage>(new GetUserUpdates(target, 0, GetUserUpdates.MaxLimit + 1))).Rejected?.Code);
    }

    [Fact]
    public async Task Pruning_removes_events_past_the_retention_and_keeps_the_head_so_no_position_is_given_twice()
    {
        await using var friends = await FriendsHarness.StartAsync();
        var target = await friends.NewUserAsync();
        for (var i = 0; i < 3; i++)
            await friends.OkAsync<SendFriendRequest, FriendRequestSent>(new SendFriendRequest(await friends.NewUserAsync(), target, null));
        var newest = await friends.WithDbAsync(db => db.UserUpdates.MaxAsync(u => u.CreatedAtMs));
        var options = new FriendsOptions { UpdateRetentionDays = 1 };
        // A day and a moment after the newest: all three are past the retention.
        var time = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(newest).AddDays(1).AddSeconds(1));
        var prune = new PruneUserUpdates(friends.Services.GetRequiredService<IServiceScopeFactory>(), options, time, NullLogger<PruneUserUpdates>.Instance);

        Assert.Equal(3, await prune.PruneAsync(CancellationToken.None));
        await friends.OkAsync<SendFriendRequest, FriendRequestSent>(new SendFriendRequest(await friends.NewUserAsync(), target, null));
        var page = await friends.OkAsync<GetUserUpdates, UserUpdatesPage>(new GetUserUpdates(target, 0, 100));

        Assert.Equal([4L], page.Updates.Select(Position));
        Assert.Equal((4L, 4L), (page.Last, page.Oldest));
    }
}
