using EasyIm.Contracts.Auth;
using EasyIm.Contracts.Friends;
using EasyIm.Gateway.Http;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace EasyIm.Gateway.Apis;

/// <summary>Group routes. Every route needs the caller's access token.</summary>
public static class GroupApi
{
    public sealed record GroupItem(string Id, string Name, string OwnerId, int MemberCount);
    public sealed record MemberItem(string Id, string Account, string Nickname, string Avatar, string Role);
    public sealed record MembersChangedData(string Id, int MemberCount);

    public static RouteGroupBuilder MapGroupApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api/group").WithTags("Group");
        api.MapPost("/create", Create)
            .WithSummary("Create a group of me (the owner) and some of my friends; answers its id")
            .WithDescription("JSON body: {name (1-64 characters), member_ids: [friend ids]}");
        api.MapPost("/invite", Invite)
            .WithSummary("Add some of my friends to a group I am in; members already in it are skipped")
            .WithDescription("JSON body: {group_id, user_ids: [friend ids]}");
        api.MapPost("/leave", Leave)
            .WithSummary("Leave a group; an owner hands it to the longest-standing member, the last member dismisses it")
            .WithDescription("JSON body: {group_id}");
        api.MapGet("/list", List)
            .WithSummary("My groups: {total, items:[{id, name, owner_id, member_count}]}");
        api.MapGet("/members", Members)
            .WithSummary("A group's members, for members only: {total, items:[{id, account, nickname, avatar, role}]}")
            .WithDescription("Query: group_id");
        return api;
    }

    private static MembersChangedData ToChanged(GroupMembersChanged c) => new(c.GroupId.ToString(), c.MemberCount);

    public static async Task<IResult> Create(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<CreateGroup> friends, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        var name = input.OptionalString("name", FriendRules.GroupNameMaxLength);
        var members = input.IdList("member_ids", FriendRules.MaxIdsPerCall);
        if ((FriendRules.CheckGroupName(name) ?? FriendRules.CheckIds(members, "member_ids", required: false)) is { } broken)
            throw new ApiInputException(broken.Field, broken.Message);
        return await ServiceCalls.AskAsync(friends, new CreateGroup(me, name!.Trim(), members),
            (GroupCreated g) => new FriendsApi.IdData(g.GroupId.ToString()), ct);
    }

    public static async Task<IResult> Invite(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<InviteToGroup> friends, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        var group = input.RequiredId("group_id");
        var users = input.IdList("user_ids", FriendRules.MaxIdsPerCall);
        if (FriendRules.CheckIds(users, "user_ids", required: true) is { } broken)
            throw new ApiInputException(broken.Field, broken.Message);
        return await ServiceCalls.AskAsync(friends, new InviteToGroup(me, group, users), (GroupMembersChanged c) => ToChanged(c), ct);
    }

    public static async Task<IResult> Leave(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<LeaveGroup> friends, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        var group = input.RequiredId("group_id");
        return await ServiceCalls.AskAsync(friends, new LeaveGroup(me, group), (GroupMembersChanged c) => ToChanged(c), ct, "left");
    }

    public static async Task<IResult> List(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<ListGroups> friends, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        return await ServiceCalls.AskAsync(friends, new ListGroups(me), (GroupList l) => new FriendsApi.ListData<GroupItem>(l.Items.Count,
            l.Items.Select(g => new GroupItem(g.Id.ToString(), g.Name, g.OwnerId.ToString(), g.MemberCount)).ToList()), ct);
    }

    public static async Task<IResult> Members(HttpRequest request,
        [FromServices] IRequestClient<ValidateAccessToken> auth, [FromServices] IRequestClient<ListGroupMembers> friends, CancellationToken ct)
    {
        var input = await ApiInput.ReadAsync(request);
        var me = await ApiCaller.ResolveAsync(request, input, auth, ct);
        var group = input.RequiredId("group_id");
        return await ServiceCalls.AskAsync(friends, new ListGroupMembers(me, group), (GroupMemberList l) => new FriendsApi.ListData<MemberItem>(l.Items.Count,
            l.Items.Select(m => new MemberItem(m.Id.ToString(), m.Account, m.Nickname, m.Avatar, m.Role)).ToList()), ct);
    }
}
