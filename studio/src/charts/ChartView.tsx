// A `visualize` chart shown inline: the tool's image, with a text alternative.
import { chartDescription, chartImageUrl, chartsIn, type ChartOutput } from "./chart";

export function ChartView({ chart }: { chart: ChartOutput }) {
  const description = chartDescription(chart);
  return (
    <figure className="chart" data-testid="chart">
      <img src={chartImageUrl(chart)} alt={description} />
      <figcaption>{description}</figcaption>
    </figure>
  );
}

/** Every chart found in `value`, one after another; nothing when there is none. */
export function ChartsIn({ value }: { value: unknown }) {
  const charts = chartsIn(value);
  if (charts.length === 0) return null;
  return (
    <div className="charts">
      {charts.map((chart, index) => (
        <ChartView key={index} chart={chart} />
      ))}
    </div>
  );
}
