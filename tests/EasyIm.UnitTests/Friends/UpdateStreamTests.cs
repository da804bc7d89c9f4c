using EasyIm.Contracts.Friends;
using EasyIm.Contracts.Gateway;
using EasyIm.Contracts.Messaging;

namespace EasyIm.UnitTests.Friends;

/// <summary>
/// Friends' side of the update stream: each change stages its events for messaging (<see cref="AppendStreamUpdates"/>,
/// through the outbox, in the change's transaction), one id per event and recipient; messaging gives them positions.
/// </summary>
public sealed class UpdateStreamTests
{
    [Fact]
    public async Task Each_change_stages_its_events_typed_for_their_recipients_each_with_its_own_id()
    {
        await using var friends = await FriendsHarness.StartAsync();
        var target = await friends.NewUserAsync();
        var inviters = new List<long>();
        for (var i = 0; i < 5; i++)
            inviters.Add(await friends.NewUserAsync());

        await Task.WhenAll(inviters.Select(from => friends.OkAsync<SendFriendRequest, FriendRequestSent>(new SendFriendRequest(from, target, null))));
        var staged = friends.Published<AppendStreamUpdates>().SelectMany(a => a.Updates).Where(u => u.UserId == target).ToList();

        Assert.Equal(inviters.Order(), staged.Select(u => u.Event.FromUserId).Order());
        Assert.All(staged, u => Assert.IsType<FriendInviteEvent>(u.Event.Event));
        Assert.All(staged, u => Assert.Equal(0, u.Event.Event!.Position)); // messaging gives the positions
        Assert.Equal(staged.Count, staged.Select(u => u.Id).Distinct().Count());
        // Friends no longer pushes these events itself: messaging pushes them with their positions.
        Assert.DoesNotContain(friends.Published<PushToUsers>().SelectMany(p => p.Pushes), p => p.UserId == target && p.Message.Event is FriendInviteEvent);
        await friends.AssertNoFaultsAsync();
    }
}
