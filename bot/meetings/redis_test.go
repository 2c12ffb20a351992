package meetings_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/tiltas/tiltas/adapters/redis"
	"github.com/tiltas/tiltas/bot"
	"github.com/tiltas/tiltas/internal/flowtest"
	"github.com/tiltas/tiltas/internal/redistest"
)

// flowTests are the flow's stories, run on memory by go test and again on Redis below.
var flowTests = []func(*testing.T){
	TestRemindersAtTheirLocalTimeAcrossBothDSTChanges,
	TestMonthlyMeetingKeepsPlanningItselfAsDaysPass,
	TestHolidayMovesTheMeetingAndRemindersFollow,
	TestHolidaySkippedMeansNoMeetingThatMonth,
	TestReminderFiredTwiceRemindsOnce,
	TestAnswerChangeableUntilTheStartAndRefusedAfter,
	TestNudgeOnceToThoseWhoHaveNotAnswered,
	TestSummaryAtTheDeadlineAndOnDemand,
	TestAgendaUntilTheCutoffAndFinalAgendaWithTheLastReminder,
	TestCancelOneOccurrenceTellsEveryoneOnceAndStopsItsReminders,
	TestMoveOneOccurrenceTellsEveryoneOnceAndRemindersFollow,
	TestOrganizerChangesTheSeriesTimeAndEveryoneIsToldOnce,
	TestConfigChangeReachesEveryoneOnce,
	TestDeputyIsToldAndCountedAndReleased,
	TestMinutesGoToEveryoneInvited,
	TestCoordinatorCreatesAOneOffMeetingInChat,
	TestOrganizerEndsTheSeries,
	TestSummaryShowsWhoCannotBeReached,
	TestSeriesICSHasUIDStampZoneAndRule,
	TestOccurrenceICSFromTheButton,
	TestCalendarFeedBehindAPersonalSecretLink,
	TestCalendarsAgreeWithASecondParser,
	TestSkippedMeetingIsExcludedEverywhere,
	TestDeadlinesFallOnWorkingDays,
	TestOnlyInviteesAnswerAndOnlyOrganizersChange,
	TestSomeoneElsesButtonChangesNothing,
	TestInvitationIsCheckedWhenTheButtonIsPressed,
	TestOnlyCoordinatorsCreateSeries,
	TestMeetingsAreSeenOnlyByThoseTheyConcern,
}

// TestEndToEndOnRedis runs the flow's stories on real Redis stores (scripts/test starts one).
func TestEndToEndOnRedis(t *testing.T) {
	c := redistest.Client(t)
	storesFor = func(tb testing.TB, clock bot.Clock) *flowtest.Stores {
		st, err := redis.New(redis.Options{Client: c, Prefix: redistest.Prefix(tb, c), Clock: clock})
		if err != nil {
			tb.Fatal(err)
		}
		return &flowtest.Stores{Records: st, Marks: st, Audit: st.Audit(), Timers: st, Queue: st}
	}
	t.Cleanup(func() { storesFor = nil })
	for _, test := range flowTests {
		name := runtime.FuncForPC(funcPC(test)).Name()
		t.Run(name[strings.LastIndex(name, ".")+1:], test)
	}
}
