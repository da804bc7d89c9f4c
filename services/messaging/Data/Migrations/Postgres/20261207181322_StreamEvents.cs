using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace EasyIm.Messaging.Data.Migrations.Postgres
{
    /// <inheritdoc />
    public partial class StreamEvents : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "stream_events",
                schema: "messaging",
                columns: table => new
                {
                    user_id = table.Column<long>(type: "bigint", nullable: false),
                    position = table.Column<long>(type: "bigint", nullable: false),
                    event_id = table.Column<Guid>(type: "uuid", nullable: false),
                    from_user_id = table.Column<long>(type: "bigint", nullable: false),
                    content = table.Column<string>(type: "text", nullable: false),
                    created_at = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_stream_events", x => new { x.user_id, x.position });
                });

            migrationBuilder.CreateIndex(
                name: "IX_stream_events_created_at",
                schema: "messaging",
                table: "stream_events",
                column: "created_at");

            migrationBuilder.CreateIndex(
                name: "IX_stream_events_event_id",
                schema: "messaging",
                table: "stream_events",
                column: "event_id",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "stream_events",
                schema: "messaging");
        }
    }
}
